//! A derivation's builder run as an Action (docs/remote.md, "How a
//! derivation maps"): argv is the builder and its arguments, the
//! environment is abovo-build's, sorted; the input root holds the closure
//! at its store paths and the empty build directory; the outputs are the
//! store paths, relative and sorted; the platform names the operating
//! system, the instruction set, and the network of fixed outputs; the
//! build's time limit is the Action's timeout.

use crate::RemoteError;
use crate::digest::Key;
use crate::input_root::{self, Blob, Blobs, ItemCache};
use crate::proto::{self, Action, Command, Platform, command::EnvironmentVariable};
use abovo_build::build::RemoteJob;
use prost::Message;
use std::sync::Arc;

/// An action ready to be sent: its digest and every blob it needs.
pub struct Prepared {
    /// The Action's digest (the ActionCache's key).
    pub action: Key,
    /// The Action, the Command and the whole input root.
    pub blobs: Blobs,
    /// An absolute symlink among the inputs (its place on disk), if any.
    pub absolute_symlink: Option<std::path::PathBuf>,
}

/// The Action of `job`.
pub fn prepare(
    job: &RemoteJob<'_>,
    cache: &ItemCache,
    stats: &crate::Stats,
) -> Result<Prepared, RemoteError> {
    let mut blobs = Blobs::new();
    let build_dir = utf8(
        job.build_dir.as_os_str().as_encoded_bytes(),
        "the build directory",
    )?;
    let mut absolute_symlink = None;
    let root = input_root::input_root(
        cache,
        job.trees,
        stats,
        job.inputs,
        &[build_dir],
        &mut blobs,
        &mut absolute_symlink,
    )?;
    let command = command(job)?;
    let command_bytes = command.encode_to_vec();
    let command_key = Key::of(&command_bytes);
    blobs.insert(command_key.clone(), Blob::Bytes(Arc::new(command_bytes)));
    // The platform in both places: v2.2 reads the Action's, older servers
    // the Command's.
    #[allow(deprecated)]
    let platform = command.platform.clone();
    let action = Action {
        command_digest: Some(command_key.digest()),
        input_root_digest: Some(root.digest()),
        timeout: job.timeout.map(|t| proto::Duration {
            seconds: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(t.subsec_nanos()).unwrap_or(0),
        }),
        do_not_cache: false,
        salt: Vec::new(),
        platform,
    };
    let action_bytes = action.encode_to_vec();
    let action_key = Key::of(&action_bytes);
    blobs.insert(action_key.clone(), Blob::Bytes(Arc::new(action_bytes)));
    Ok(Prepared {
        action: action_key,
        blobs,
        absolute_symlink,
    })
}

/// The Command of `job`.
pub fn command(job: &RemoteJob<'_>) -> Result<Command, RemoteError> {
    let mut arguments = vec![job.builder.to_owned()];
    for a in job.args {
        arguments.push(utf8(a, "an argument of the builder")?.to_owned());
    }
    // abovo-build's environment is a BTreeMap of bytes: sorted by name,
    // as the protocol requires (byte order is code point order in UTF-8).
    let environment_variables = job
        .env
        .iter()
        .map(|(k, v)| {
            Ok(EnvironmentVariable {
                name: utf8(k, "the name of a variable")?.to_owned(),
                value: utf8(v, "the value of a variable")?.to_owned(),
            })
        })
        .collect::<Result<Vec<_>, RemoteError>>()?;
    let mut output_paths = job
        .outputs
        .iter()
        .map(|(p, _)| relative(p))
        .collect::<Result<Vec<_>, _>>()?;
    output_paths.sort();
    #[allow(deprecated)]
    Ok(Command {
        arguments,
        environment_variables,
        output_paths,
        platform: Some(platform(job.system, job.fixed_output)),
        ..Command::default()
    })
}

/// `/gnu/store/x` as the protocol's relative path `gnu/store/x`.
pub fn relative(path: &str) -> Result<String, RemoteError> {
    Ok(input_root::components(path)?.join("/"))
}

/// The platform properties, sorted by name: `ISA`, `OSFamily`, and
/// `network=on` for a fixed-output derivation only.
fn platform(system: &str, fixed_output: bool) -> Platform {
    let isa = match system.split_once('-').map_or(system, |(a, _)| a) {
        "x86_64" => "x86-64",
        "i686" => "x86-32",
        "aarch64" => "aarch64",
        "armhf" => "aarch32",
        "powerpc64le" => "power-isa-le",
        "riscv64" => "riscv64",
        other => other,
    };
    let mut properties = vec![
        proto::platform::Property {
            name: "ISA".into(),
            value: isa.into(),
        },
        proto::platform::Property {
            name: "OSFamily".into(),
            value: "linux".into(),
        },
    ];
    if fixed_output {
        properties.push(proto::platform::Property {
            name: "network".into(),
            value: "on".into(),
        });
    }
    Platform { properties }
}

fn utf8<'a>(b: &'a [u8], what: &str) -> Result<&'a str, RemoteError> {
    std::str::from_utf8(b).map_err(|_| {
        RemoteError::Unrepresentable(format!(
            "{what} (`{}`) is not UTF-8, and the protocol's strings must be",
            String::from_utf8_lossy(b)
        ))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn a_job_maps_to_argv_sorted_env_sorted_outputs_and_platform() {
        let mut env = abovo_build::build::env::Env::new();
        env.insert(b"out".to_vec(), b"/gnu/store/bbb-x".to_vec());
        env.insert(b"PATH".to_vec(), b"/path-not-set".to_vec());
        let outputs = vec![
            ("/gnu/store/bbb-x".to_owned(), PathBuf::from("/a")),
            ("/gnu/store/aaa-x-doc".to_owned(), PathBuf::from("/b")),
        ];
        let args = vec![b"-c".to_vec(), b"echo hi".to_vec()];
        let job = RemoteJob {
            drv: "/gnu/store/ccc-x.drv",
            system: "x86_64-linux",
            builder: "/gnu/store/ddd-sh/bin/sh",
            args: &args,
            env: &env,
            build_dir: Path::new("/tmp/guix-build-x.drv-0"),
            inputs: &[],
            trees: &crate::input_root::tests::MemoryTrees::default(),
            outputs: &outputs,
            fixed_output: false,
            timeout: None,
            rebuild: false,
        };
        let c = command(&job).unwrap();
        assert_eq!(c.arguments, ["/gnu/store/ddd-sh/bin/sh", "-c", "echo hi"]);
        let names: Vec<_> = c.environment_variables.iter().map(|v| &v.name).collect();
        assert_eq!(names, ["PATH", "out"]);
        assert_eq!(c.output_paths, ["gnu/store/aaa-x-doc", "gnu/store/bbb-x"]);
        #[allow(deprecated)]
        let props: Vec<_> = c
            .platform
            .as_ref()
            .unwrap()
            .properties
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(props, [("ISA", "x86-64"), ("OSFamily", "linux")]);
        let fixed = RemoteJob {
            fixed_output: true,
            ..job
        };
        #[allow(deprecated)]
        let props = command(&fixed).unwrap().platform.unwrap().properties;
        assert_eq!(props[2].name, "network");
        let bad = vec![vec![0xff]];
        let job = RemoteJob {
            args: &bad,
            ..fixed
        };
        assert!(command(&job).unwrap_err().to_string().contains("not UTF-8"));
    }
}
