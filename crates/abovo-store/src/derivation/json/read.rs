//! Reading a derivation from JSON in any of its formats (see the
//! [module docs](super)): the value is walked by hand, so that every error
//! names the key where it was found and what was expected there.

use super::raw;
use super::structured;
use super::{JsonDerivation, JsonError, JsonFormat, NameSource};
use crate::derivation::output::{CaMethod, ContentAddress, IMPURE_HASH, OutputKind};
use crate::derivation::{Derivation, DynamicOutputs, Output};
use crate::encoding::base64_decode;
use crate::hash::{Hash, HashAlgo};
use crate::store_path::{StoreDir, StorePath, output_path_name};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How deep `dynamicOutputs` may nest (as in the ATerm reader).
const MAX_DEPTH: usize = crate::derivation::aterm::MAX_DYNAMIC_DEPTH;

/// The reader's context.
struct Reader<'s> {
    store: &'s StoreDir,
    /// Whether strings hold raw bytes mapped to characters ([`raw`]).
    mapped: bool,
}

pub(super) fn read(
    store: &StoreDir,
    bytes: &[u8],
    format: Option<JsonFormat>,
    name_hint: Option<&str>,
) -> Result<JsonDerivation, JsonError> {
    let (text, mapped) = raw::decode(bytes).ok_or_else(|| {
        JsonError::Syntax(
            "the text is not UTF-8, and it also holds characters U+10FF80 to U+10FFFF, so its raw \
             bytes cannot be told apart from them"
                .into(),
        )
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| JsonError::Syntax(e.to_string()))?;
    let (value, wrapper_key) = unwrap(value)?;
    let r = Reader { store, mapped };
    let obj = object(&value, "the derivation")?;
    let detected = detect(obj)?;
    let format = match format {
        None => detected,
        Some(asked) => {
            check_format(obj, asked, detected)?;
            asked
        }
    };
    let known = [
        "name",
        "version",
        "outputs",
        "inputDrvs",
        "inputSrcs",
        "inputs",
        "system",
        "builder",
        "args",
        "env",
        "structuredAttrs",
    ];
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(JsonError::shape(
            k,
            format!("unknown key (a derivation has {})", known.join(", ")),
        ));
    }

    let json_name = match obj.get("name") {
        None => None,
        Some(v) => Some(r.text(v, "name")?),
    };
    let mut environment = r.env(obj.get("env"))?;
    let (name, name_from) = if let Some(n) = json_name {
        (Some(n), NameSource::Name)
    } else if let Some(n) = wrapper_key.as_deref().and_then(drv_name_of_key) {
        (Some(n), NameSource::WrapperKey)
    } else if let Some(n) = name_hint {
        (Some(n.to_owned()), NameSource::Given)
    } else if let Some(n) = declared_name(&environment, obj.get("structuredAttrs")) {
        (Some(n), NameSource::Environment)
    } else {
        (None, NameSource::None)
    };

    if let Some(attrs) = obj.get("structuredAttrs") {
        if !attrs.is_object() {
            return Err(JsonError::shape("structuredAttrs", "expected an object"));
        }
        let text = structured::dump(attrs).into_bytes();
        // Both may be given when they agree (Nix's own test data does it).
        match environment.get(structured::ENV_VAR.as_bytes()) {
            Some(given) if *given != text => {
                return Err(JsonError::shape(
                    "env.__json",
                    "structured attributes are given twice, differently (in `structuredAttrs` \
                     and as `__json`)",
                ));
            }
            _ => {
                environment.insert(structured::ENV_VAR.as_bytes().to_vec(), text);
            }
        }
    }

    let (input_derivations, dynamic_inputs, input_sources) = match obj.get("inputs") {
        // A resolved derivation (format 4): only input sources.
        Some(list @ Value::Array(_)) => (
            BTreeMap::new(),
            BTreeMap::new(),
            r.sources(Some(list), "inputs")?,
        ),
        Some(inputs) => {
            let inputs = object(inputs, "inputs")?;
            if let Some(k) = inputs.keys().find(|k| *k != "srcs" && *k != "drvs") {
                return Err(JsonError::shape(
                    &format!("inputs.{k}"),
                    "unknown key (inputs has srcs and drvs)",
                ));
            }
            let (d, dy) = r.input_drvs(inputs.get("drvs"), "inputs.drvs")?;
            (d, dy, r.sources(inputs.get("srcs"), "inputs.srcs")?)
        }
        None => {
            let (d, dy) = r.input_drvs(obj.get("inputDrvs"), "inputDrvs")?;
            (d, dy, r.sources(obj.get("inputSrcs"), "inputSrcs")?)
        }
    };
    let mut drv = Derivation {
        outputs: BTreeMap::new(),
        input_derivations,
        dynamic_inputs,
        input_sources,
        system: r.text(required(obj, "system")?, "system")?,
        builder: r.text(required(obj, "builder")?, "builder")?,
        arguments: match obj.get("args") {
            None => Vec::new(),
            Some(v) => array(v, "args")?
                .iter()
                .enumerate()
                .map(|(i, a)| r.bytes(a, &format!("args[{i}]")))
                .collect::<Result<_, _>>()?,
        },
        environment,
    };
    let outputs = object(required(obj, "outputs")?, "outputs")?;
    for (output, value) in outputs {
        let o = r.output(output, value, name.as_deref())?;
        drv.outputs.insert(output.clone(), o);
    }
    Ok(JsonDerivation {
        derivation: drv,
        name,
        name_from,
        format,
    })
}

/// The name the environment (or `structuredAttrs`) declares
/// ([`Derivation::declared_name`]).
fn declared_name(env: &BTreeMap<Vec<u8>, Vec<u8>>, attrs: Option<&Value>) -> Option<String> {
    let mut drv = Derivation {
        environment: env.clone(),
        ..Derivation::default()
    };
    if let Some(a) = attrs {
        drv.environment.insert(
            structured::ENV_VAR.as_bytes().to_vec(),
            a.to_string().into_bytes(),
        );
    }
    drv.declared_name()
}

/// `nix derivation show`'s wrappers: `{"<drv path>": {…}}` (before 2.33)
/// and `{"version": 4, "derivations": {"<drv>": {…}}}` (2.33 and later).
/// Returns the derivation's value and the wrapper's key.
fn unwrap(value: Value) -> Result<(Value, Option<String>), JsonError> {
    let Value::Object(mut map) = value else {
        return Err(JsonError::shape("the derivation", "expected a JSON object"));
    };
    if map.contains_key("derivations") && !map.contains_key("outputs") {
        let Some(Value::Object(inner)) = map.remove("derivations") else {
            return Err(JsonError::shape("derivations", "expected an object"));
        };
        return single(inner, "derivations");
    }
    let keyed = !map.is_empty() && map.keys().all(|k| k.ends_with(".drv"));
    if keyed {
        return single(map, "the wrapper object");
    }
    Ok((Value::Object(map), None))
}

fn single(map: Map<String, Value>, what: &str) -> Result<(Value, Option<String>), JsonError> {
    if map.len() != 1 {
        return Err(JsonError::shape(
            what,
            format!(
                "it holds {} derivations keyed by their `.drv` paths (what `nix derivation show` \
                 prints for several); give them one at a time",
                map.len()
            ),
        ));
    }
    let Some((key, inner)) = map.into_iter().next() else {
        return Err(JsonError::shape(what, "it holds no derivation"));
    };
    if !inner.is_object() {
        return Err(JsonError::shape(&key, "expected a derivation object"));
    }
    Ok((inner, Some(key)))
}

/// `/…/<hash>-NAME.drv` or `<hash>-NAME.drv` → NAME.
fn drv_name_of_key(key: &str) -> Option<String> {
    let base = key.rsplit('/').next()?;
    let path = StorePath::from_base_name(base).ok()?;
    path.derivation_name().map(str::to_owned)
}

/// The format the object's shape shows.
fn detect(obj: &Map<String, Value>) -> Result<JsonFormat, JsonError> {
    match obj.get("version") {
        Some(v) => {
            return match v.as_u64() {
                Some(4) => Ok(JsonFormat::Nix2_33),
                Some(3) => Ok(JsonFormat::Nix2_32),
                _ => Err(JsonError::UnknownVersion(v.to_string())),
            };
        }
        None if obj.contains_key("inputs") => {
            return Err(JsonError::shape(
                "inputs",
                "`inputs` belongs to format version 4, but there is no `\"version\": 4`",
            ));
        }
        None => {}
    }
    let outputs = obj.get("outputs").and_then(Value::as_object);
    let method = outputs.is_some_and(|o| {
        o.values()
            .any(|v| v.as_object().is_some_and(|o| o.contains_key("method")))
    });
    let nested = obj
        .get("inputDrvs")
        .and_then(Value::as_object)
        .is_some_and(|m| m.values().any(Value::is_object));
    Ok(if obj.contains_key("structuredAttrs") {
        JsonFormat::Nix2_30
    } else if method {
        JsonFormat::Nix2_23
    } else if nested {
        JsonFormat::Nix2_18
    } else if !obj.contains_key("name") {
        JsonFormat::Tvix
    } else {
        JsonFormat::Nix2_17
    })
}

/// Refuses data that uses a feature `asked` does not have (or lacks one it
/// requires).
fn check_format(
    obj: &Map<String, Value>,
    asked: JsonFormat,
    detected: JsonFormat,
) -> Result<(), JsonError> {
    let wrong = |why: &str| JsonError::WrongFormat {
        asked,
        found: detected.name().to_owned(),
        why: why.to_owned(),
    };
    if asked.version() != detected.version() {
        return Err(wrong(&match detected.version() {
            Some(v) => format!("it has `\"version\": {v}`"),
            None => "it has no `version`".to_owned(),
        }));
    }
    if asked.version().is_some() {
        return Ok(());
    }
    if obj.contains_key("structuredAttrs") && !asked.structured_attrs() {
        return Err(wrong("it has a top-level `structuredAttrs`"));
    }
    let outputs = obj.get("outputs").and_then(Value::as_object);
    let has = |key: &str| {
        outputs.is_some_and(|o| {
            o.values()
                .any(|v| v.as_object().is_some_and(|o| o.contains_key(key)))
        })
    };
    if has("method") != asked.has_method() && (has("method") || has("hashAlgo")) {
        return Err(wrong(if has("method") {
            "its outputs have `method`"
        } else {
            "its outputs have `hashAlgo` without `method`"
        }));
    }
    if let Some(inputs) = obj.get("inputDrvs").and_then(Value::as_object) {
        let objects = inputs.values().any(Value::is_object);
        let lists = inputs.values().any(Value::is_array);
        if (objects && !asked.nested_inputs()) || (lists && asked.nested_inputs()) {
            return Err(wrong(if objects {
                "its `inputDrvs` values are objects"
            } else {
                "its `inputDrvs` values are lists"
            }));
        }
    }
    if asked == JsonFormat::Tvix && obj.contains_key("name") {
        return Err(wrong("it has a `name`"));
    }
    Ok(())
}

fn object<'v>(v: &'v Value, at: &str) -> Result<&'v Map<String, Value>, JsonError> {
    v.as_object()
        .ok_or_else(|| JsonError::shape(at, format!("expected an object, found {}", kind(v))))
}

fn array<'v>(v: &'v Value, at: &str) -> Result<&'v Vec<Value>, JsonError> {
    v.as_array()
        .ok_or_else(|| JsonError::shape(at, format!("expected a list, found {}", kind(v))))
}

fn required<'v>(obj: &'v Map<String, Value>, key: &str) -> Result<&'v Value, JsonError> {
    obj.get(key)
        .ok_or_else(|| JsonError::shape(key, "missing (every derivation has it)"))
}

/// What a JSON value is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Reader<'_> {
    /// A string field that must be text.
    fn text(&self, v: &Value, at: &str) -> Result<String, JsonError> {
        let s = v
            .as_str()
            .ok_or_else(|| JsonError::shape(at, format!("expected a string, found {}", kind(v))))?;
        String::from_utf8(raw::string_bytes(s, self.mapped))
            .map_err(|_| JsonError::shape(at, "not valid UTF-8"))
    }

    /// A string or `{"bytes": "<base64>"}`, as bytes.
    fn bytes(&self, v: &Value, at: &str) -> Result<Vec<u8>, JsonError> {
        match v {
            Value::String(s) => Ok(raw::string_bytes(s, self.mapped)),
            Value::Object(o) if o.len() == 1 && o.contains_key("bytes") => {
                let b64 = o["bytes"].as_str().ok_or_else(|| {
                    JsonError::shape(&format!("{at}.bytes"), "expected a base64 string")
                })?;
                base64_decode(b64)
                    .map_err(|e| JsonError::shape(&format!("{at}.bytes"), e.to_string()))
            }
            _ => Err(JsonError::shape(
                at,
                format!(
                    "expected a string or {{\"bytes\": \"<base64>\"}}, found {}",
                    kind(v)
                ),
            )),
        }
    }

    /// A store path: absolute in the store, or a base name (formats 3
    /// and 4).
    fn path(&self, s: &str, at: &str) -> Result<StorePath, JsonError> {
        let parsed = if s.starts_with('/') {
            self.store.parse(s)
        } else {
            StorePath::from_base_name(s)
        };
        parsed.map_err(|e| JsonError::shape(at, format!("invalid store path: {e}")))
    }

    fn env(&self, v: Option<&Value>) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, JsonError> {
        let mut env = BTreeMap::new();
        match v {
            None => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let key = raw::string_bytes(k, self.mapped);
                    env.insert(key, self.bytes(v, &format!("env.{k}"))?);
                }
            }
            Some(Value::Array(pairs)) => {
                for (i, pair) in pairs.iter().enumerate() {
                    let at = format!("env[{i}]");
                    match pair.as_array().map(Vec::as_slice) {
                        Some([k, v]) => {
                            let key = self.bytes(k, &at)?;
                            if env.contains_key(&key) {
                                return Err(JsonError::shape(&at, "a variable given twice"));
                            }
                            env.insert(key, self.bytes(v, &at)?);
                        }
                        _ => return Err(JsonError::shape(&at, "expected a [name, value] pair")),
                    }
                }
            }
            Some(other) => {
                return Err(JsonError::shape(
                    "env",
                    format!(
                        "expected an object (or a list of [name, value] pairs), found {}",
                        kind(other)
                    ),
                ));
            }
        }
        Ok(env)
    }

    fn sources(&self, v: Option<&Value>, at: &str) -> Result<BTreeSet<StorePath>, JsonError> {
        let mut out = BTreeSet::new();
        let Some(v) = v else { return Ok(out) };
        for (i, p) in array(v, at)?.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let s = self.text(p, &here)?;
            out.insert(self.path(&s, &here)?);
        }
        Ok(out)
    }

    #[allow(clippy::type_complexity)]
    fn input_drvs(
        &self,
        v: Option<&Value>,
        at: &str,
    ) -> Result<
        (
            BTreeMap<StorePath, BTreeSet<String>>,
            BTreeMap<StorePath, BTreeMap<String, DynamicOutputs>>,
        ),
        JsonError,
    > {
        let mut inputs = BTreeMap::new();
        let mut dynamic = BTreeMap::new();
        let Some(v) = v else {
            return Ok((inputs, dynamic));
        };
        for (key, value) in object(v, at)? {
            let here = format!("{at}.{key}");
            let path = self.path(key, &here)?;
            if !path.is_derivation() {
                return Err(JsonError::shape(
                    &here,
                    "an input derivation ends in `.drv`",
                ));
            }
            let node = self.node(value, &here, 0)?;
            if !node.dynamic.is_empty() {
                dynamic.insert(path.clone(), node.dynamic);
            }
            inputs.insert(path, node.outputs);
        }
        Ok((inputs, dynamic))
    }

    /// A list of output names, or `{"outputs": […], "dynamicOutputs": {…}}`.
    fn node(&self, v: &Value, at: &str, depth: usize) -> Result<DynamicOutputs, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::shape(
                at,
                format!("outputs of outputs are nested more than {MAX_DEPTH} deep"),
            ));
        }
        let names = |v: &Value, at: &str| -> Result<BTreeSet<String>, JsonError> {
            let mut set = BTreeSet::new();
            for (i, n) in array(v, at)?.iter().enumerate() {
                set.insert(self.text(n, &format!("{at}[{i}]"))?);
            }
            Ok(set)
        };
        if v.is_array() {
            return Ok(DynamicOutputs {
                outputs: names(v, at)?,
                dynamic: BTreeMap::new(),
            });
        }
        let obj = object(v, at)?;
        if let Some(k) = obj
            .keys()
            .find(|k| *k != "outputs" && *k != "dynamicOutputs")
        {
            return Err(JsonError::shape(
                &format!("{at}.{k}"),
                "unknown key (an input has outputs and dynamicOutputs)",
            ));
        }
        let outputs = match obj.get("outputs") {
            Some(v) => names(v, &format!("{at}.outputs"))?,
            None => BTreeSet::new(),
        };
        let mut dynamic = BTreeMap::new();
        if let Some(d) = obj.get("dynamicOutputs") {
            for (name, child) in object(d, &format!("{at}.dynamicOutputs"))? {
                let here = format!("{at}.dynamicOutputs.{name}");
                dynamic.insert(
                    String::from_utf8(raw::string_bytes(name, self.mapped))
                        .map_err(|_| JsonError::shape(&here, "not valid UTF-8"))?,
                    self.node(child, &here, depth + 1)?,
                );
            }
        }
        Ok(DynamicOutputs { outputs, dynamic })
    }

    /// One output: its keys say its kind (see the [module docs](super)).
    fn output(&self, name: &str, v: &Value, drv_name: Option<&str>) -> Result<Output, JsonError> {
        let at = format!("outputs.{name}");
        let obj = object(v, &at)?;
        let allowed = ["path", "method", "hashAlgo", "hash", "impure"];
        if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(JsonError::shape(
                &format!("{at}.{k}"),
                "unknown key (an output has path, method, hashAlgo, hash, impure)",
            ));
        }
        let field = |k: &str| -> Result<Option<String>, JsonError> {
            obj.get(k)
                .map(|v| self.text(v, &format!("{at}.{k}")))
                .transpose()
        };
        let path = match field("path")?.filter(|p| !p.is_empty()) {
            Some(p) => Some(self.path(&p, &format!("{at}.path"))?),
            None => None,
        };
        let impure = match obj.get("impure") {
            None => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(JsonError::shape(&format!("{at}.impure"), "expected true")),
        };
        let method = match field("method")? {
            Some(m) => Some(CaMethod::from_name(&m).ok_or_else(|| {
                JsonError::shape(
                    &format!("{at}.method"),
                    format!("unknown method `{m}` (expected flat, nar, text or git)"),
                )
            })?),
            None => None,
        };
        let hash_algo = field("hashAlgo")?;
        let hash = field("hash")?;
        let bad = |k: &str, e: String| JsonError::shape(&format!("{at}.{k}"), e);
        // The method and algorithm: from `method` and `hashAlgo`, from a
        // `hashAlgo` with its ATerm prefix, or (format 4, fixed) from
        // `method` and the algorithm of an SRI `hash`.
        let kind = match (method, hash_algo.as_deref(), hash.as_deref()) {
            (None, None, None) if !impure => {
                return Ok(Output {
                    path,
                    ..Output::default()
                });
            }
            (Some(method), None, Some(h)) if !impure => {
                let hash = Hash::parse_prefixed(h).map_err(|e| bad("hash", e.to_string()))?;
                OutputKind::Fixed(ContentAddress { method, hash })
            }
            (_, None, _) => {
                return Err(bad(
                    "hashAlgo",
                    "missing (an output with a method, a hash or `impure` has one)".into(),
                ));
            }
            (method, Some(a), h) => {
                let (method, algo) = match method {
                    Some(m) => (m, a),
                    None => CaMethod::split(a),
                };
                let algo = HashAlgo::from_name(algo).map_err(|e| bad("hashAlgo", e.to_string()))?;
                match h {
                    Some(_) if impure => {
                        return Err(bad("hash", "an impure output has no hash".into()));
                    }
                    None if impure => OutputKind::Impure { method, algo },
                    None => OutputKind::Floating { method, algo },
                    Some(h) => {
                        let hash = Hash::parse_digest(algo, h)
                            .or_else(|e| match Hash::parse_prefixed(h) {
                                Ok(p) if p.algo() == algo => Ok(p),
                                _ => Err(e),
                            })
                            .map_err(|e| bad("hash", e.to_string()))?;
                        OutputKind::Fixed(ContentAddress { method, hash })
                    }
                }
            }
        };
        match kind {
            OutputKind::Fixed(ca) => {
                let path = match path {
                    Some(p) => p,
                    None => {
                        let drv_name = drv_name.ok_or_else(|| {
                            bad(
                                "path",
                                "missing, and the derivation's name, which its path needs, is unknown (give it a name)"
                                    .into(),
                            )
                        })?;
                        ca.path(self.store, &output_path_name(drv_name, name))
                            .map_err(|e| bad("hash", e.to_string()))?
                    }
                };
                Ok(Output {
                    path: Some(path),
                    hash_algo: ca.hash_algo_field(),
                    hash: ca.hash.to_base16(),
                })
            }
            OutputKind::Floating { method, algo } | OutputKind::Impure { method, algo } => {
                if path.is_some() {
                    return Err(bad(
                        "path",
                        format!(
                            "{} output has no path before it is built",
                            if impure {
                                "an impure"
                            } else {
                                "a floating content-addressed"
                            }
                        ),
                    ));
                }
                Ok(Output {
                    path: None,
                    hash_algo: method.hash_algo_field(algo),
                    hash: if impure {
                        IMPURE_HASH.to_owned()
                    } else {
                        String::new()
                    },
                })
            }
            OutputKind::InputAddressed | OutputKind::Deferred => Ok(Output {
                path,
                ..Output::default()
            }),
        }
    }
}
