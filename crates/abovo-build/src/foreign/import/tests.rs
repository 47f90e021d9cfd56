//! Plans made from hand-made derivations with known answers.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
use super::*;
use abovo_store::derivation::Output;

fn store() -> StoreDir {
    StoreDir::new("/gnu/store").unwrap()
}

/// A derivation with outputs `outputs`, inputs `inputs` (path and
/// outputs asked of it), its output paths computed through `hashes`
/// of the inputs; written to `dir` under its own `.drv` path.
fn write(
    dir: &Path,
    name: &str,
    outputs: &[&str],
    inputs: &[(&StorePath, &[&str])],
    known: &mut HashMap<StorePath, [u8; 32]>,
    tamper: impl FnOnce(&mut Derivation),
) -> StorePath {
    let s = store();
    let mut drv = Derivation {
        outputs: outputs
            .iter()
            .map(|o| (o.to_string(), Output::default()))
            .collect(),
        input_derivations: inputs
            .iter()
            .map(|(p, o)| ((*p).clone(), o.iter().map(|x| x.to_string()).collect()))
            .collect(),
        system: "x86_64-linux".into(),
        builder: "/gnu/store/00000000000000000000000000000000-sh/bin/sh".into(),
        ..Derivation::default()
    };
    drv.fill_output_paths(&s, name, |p| Ok(known[p])).unwrap();
    let h = drv.hash_modulo(&s, |p| Ok(known[p])).unwrap();
    tamper(&mut drv);
    let aterm = drv.to_aterm(&s);
    let path = drv.drv_path(&s, name, &aterm).unwrap();
    std::fs::write(dir.join(path.base_name()), &aterm).unwrap();
    known.insert(path.clone(), h);
    path
}

fn refused(dir: &Path, target: &StorePath) -> Vec<Problem> {
    let places = [Place::open(dir).unwrap()];
    let s = store();
    match Importer::new(&places, &s, None).plan(&[Target::Named(target.base_name())]) {
        Err(ImportError::Refused { problems, .. }) => problems,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_closure_with_right_paths_plans_inputs_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut known = HashMap::new();
    let a = write(dir.path(), "a", &["out", "lib"], &[], &mut known, |_| {});
    let b = write(
        dir.path(),
        "b",
        &["out"],
        &[(&a, &["lib"])],
        &mut known,
        |_| {},
    );
    let c = write(
        dir.path(),
        "c",
        &["out"],
        &[(&a, &["out"]), (&b, &["out"])],
        &mut known,
        |_| {},
    );
    let places = [Place::open(dir.path()).unwrap()];
    let s = store();
    let plan = Importer::new(&places, &s, None)
        .plan(&[Target::Named(c.base_name())])
        .unwrap();
    assert_eq!(plan.targets, std::slice::from_ref(&c));
    assert_eq!(plan.derivations().cloned().collect::<Vec<_>>(), [a, b, c]);
}

#[test]
fn wrong_outputs_and_missing_outputs_of_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut known = HashMap::new();
    let a = write(dir.path(), "a", &["out"], &[], &mut known, |_| {});
    // Its own `.drv` path is right (computed after the change), its
    // output path is not what its content gives.
    let wrong = write(
        dir.path(),
        "wrong",
        &["out"],
        &[(&a, &["out"])],
        &mut known,
        |d| {
            let o = d.outputs.get_mut("out").unwrap();
            o.path =
                Some(StorePath::from_base_name("11111111111111111111111111111111-wrong").unwrap());
        },
    );
    let problems = refused(dir.path(), &wrong);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let text = problems[0].to_string();
    assert!(
        text.contains("output \"out\" is `/gnu/store/11111111111111111111111111111111-wrong`, but its content gives"),
        "{text}"
    );
    let no_lib = write(
        dir.path(),
        "no-lib",
        &["out"],
        &[(&a, &["lib"])],
        &mut known,
        |_| {},
    );
    let text = refused(dir.path(), &no_lib)[0].to_string();
    assert!(
        text.contains(&format!(
            "its input `/gnu/store/{}` has no output `lib`",
            a.base_name()
        )),
        "{text}"
    );
}

#[test]
fn the_store_directory_a_derivation_names_is_found() {
    let bytes = br#"Derive([("out","/nix/store/abc-x","","")],[],[],"x","/b",[],[])"#;
    assert_eq!(named_store_dir(bytes).as_deref(), Some("/nix/store"));
    assert_eq!(named_store_dir(b"Derive([])"), None);
    assert_eq!(named_store_dir(b"not a drv"), None);
    // Bytes that are not UTF-8 after the first path do not matter.
    let mut latin = bytes.to_vec();
    latin.push(0xe9);
    assert_eq!(named_store_dir(&latin).as_deref(), Some("/nix/store"));
}

#[test]
fn long_lists_of_problems_are_cut_with_a_count() {
    let problems: Vec<Problem> = (0..25)
        .map(|i| Problem::MissingSource {
            path: format!("/gnu/store/{i}"),
            needed_by: vec!["/gnu/store/x.drv".into(), "/gnu/store/y.drv".into()],
        })
        .collect();
    let text = Problems(&problems).to_string();
    assert!(text.starts_with("25 problems\n"), "{text}");
    assert!(
        text.contains("(needed by `/gnu/store/x.drv` and 1 more)"),
        "{text}"
    );
    assert!(text.contains("… and 5 more"), "{text}");
    assert!(text.ends_with("(`--from /gnu/store`)"), "{text}");
}
