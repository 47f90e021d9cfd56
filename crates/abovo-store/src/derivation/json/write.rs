//! Writing a derivation as JSON in one of its formats (see the
//! [module docs](super)), keys sorted as Nix prints them.

use super::structured;
use super::{JsonError, JsonFormat};
use crate::derivation::output::{CaMethod, OutputKind};
use crate::derivation::{Derivation, DynamicOutputs};
use crate::encoding::base64_encode;
use crate::hash::HashAlgo;
use crate::store_path::{StoreDir, StorePath};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// An object with its keys in byte order.
fn object(mut entries: Vec<(String, Value)>) -> Value {
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Value::Object(entries.into_iter().collect::<Map<String, Value>>())
}

/// Bytes as a string when they are UTF-8, else `{"bytes": "<base64>"}`.
fn bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => object(vec![("bytes".into(), Value::String(base64_encode(b)))]),
    }
}

pub(super) fn write(
    drv: &Derivation,
    store: &StoreDir,
    name: Option<&str>,
    format: JsonFormat,
) -> Result<Value, JsonError> {
    let path = |p: &StorePath| {
        Value::String(if format.base_names() {
            p.base_name()
        } else {
            store.display(p)
        })
    };
    if format.version().is_some() && name.is_none() {
        return Err(JsonError::Unrepresentable {
            format,
            what: "a derivation without its name (format versions 3 and 4 require one)",
            instead: "a name, or an older format",
        });
    }
    if drv.has_dynamic_inputs() && !format.nested_inputs() {
        return Err(JsonError::Unrepresentable {
            format,
            what: "outputs of outputs (Nix's dynamic derivations)",
            instead: "nix-2.18 or later",
        });
    }

    let mut outputs = Vec::new();
    for (output, o) in &drv.outputs {
        let at = format!("outputs.{output}");
        let kind = o.kind().map_err(|e| JsonError::shape(&at, e.to_string()))?;
        let mut fields: Vec<(String, Value)> = Vec::new();
        let method_algo = |fields: &mut Vec<(String, Value)>, method: CaMethod, algo: HashAlgo| {
            if format.has_method() {
                fields.push(("method".into(), Value::String(method.name().into())));
                fields.push(("hashAlgo".into(), Value::String(algo.name().into())));
            } else {
                fields.push((
                    "hashAlgo".into(),
                    Value::String(method.hash_algo_field(algo)),
                ));
            }
        };
        match kind {
            OutputKind::InputAddressed => {
                if let Some(p) = &o.path {
                    fields.push(("path".into(), path(p)));
                }
            }
            OutputKind::Deferred => {}
            OutputKind::Fixed(ca) => {
                if format == JsonFormat::Nix2_33 {
                    fields.push(("method".into(), Value::String(ca.method.name().into())));
                    fields.push(("hash".into(), Value::String(ca.hash.to_sri())));
                } else {
                    method_algo(&mut fields, ca.method, ca.hash.algo());
                    fields.push(("hash".into(), Value::String(ca.hash.to_base16())));
                }
                match (&o.path, format.version()) {
                    (Some(p), None) => fields.push(("path".into(), path(p))),
                    // Formats 3 and 4 leave the path out: it follows from
                    // the hash, and a reader computes it.
                    (Some(p), Some(_)) => {
                        let drv_name = name.unwrap_or_default();
                        let want = ca
                            .path(
                                store,
                                &crate::store_path::output_path_name(drv_name, output),
                            )
                            .map_err(|e| JsonError::shape(&at, e.to_string()))?;
                        if &want != p {
                            return Err(JsonError::shape(
                                &at,
                                format!(
                                    "its recorded path `{}` is not the one its hash gives (`{}`); the {format} format does not record paths of fixed outputs",
                                    store.display(p),
                                    store.display(&want)
                                ),
                            ));
                        }
                    }
                    (None, _) => {}
                }
            }
            OutputKind::Floating { method, algo } => method_algo(&mut fields, method, algo),
            OutputKind::Impure { method, algo } => {
                method_algo(&mut fields, method, algo);
                fields.push(("impure".into(), Value::Bool(true)));
            }
        }
        outputs.push((output.clone(), object(fields)));
    }

    let drvs = object(
        drv.input_derivations
            .iter()
            .map(|(p, names)| {
                let key = match path(p) {
                    Value::String(s) => s,
                    _ => String::new(),
                };
                let value = if format.nested_inputs() {
                    let node = DynamicOutputs {
                        outputs: names.clone(),
                        dynamic: drv.dynamic_inputs.get(p).cloned().unwrap_or_default(),
                    };
                    nested(&node)
                } else {
                    names_list(names)
                };
                (key, value)
            })
            .collect(),
    );
    let srcs = Value::Array(drv.input_sources.iter().map(path).collect());

    let mut env: Vec<(&[u8], &[u8])> = drv
        .environment
        .iter()
        .map(|(k, v)| (k.as_slice(), v.as_slice()))
        .collect();
    let mut fields: Vec<(String, Value)> = Vec::new();
    if format.structured_attrs() {
        if let Some(attrs) = drv
            .env(structured::ENV_VAR)
            .and_then(structured::parse_exact)
        {
            env.retain(|(k, _)| *k != structured::ENV_VAR.as_bytes());
            fields.push(("structuredAttrs".into(), attrs));
        }
    }
    let env = if env.iter().all(|(k, _)| std::str::from_utf8(k).is_ok()) {
        object(
            env.iter()
                .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), bytes(v)))
                .collect(),
        )
    } else {
        Value::Array(
            env.iter()
                .map(|(k, v)| Value::Array(vec![bytes(k), bytes(v)]))
                .collect(),
        )
    };

    fields.extend([
        ("outputs".to_owned(), object(outputs)),
        ("system".to_owned(), Value::String(drv.system.clone())),
        ("builder".to_owned(), Value::String(drv.builder.clone())),
        (
            "args".to_owned(),
            Value::Array(drv.arguments.iter().map(|a| bytes(a)).collect()),
        ),
        ("env".to_owned(), env),
    ]);
    if format == JsonFormat::Nix2_33 {
        fields.push((
            "inputs".into(),
            object(vec![("drvs".into(), drvs), ("srcs".into(), srcs)]),
        ));
    } else {
        fields.push(("inputDrvs".into(), drvs));
        fields.push(("inputSrcs".into(), srcs));
    }
    if let (Some(n), false) = (name, format == JsonFormat::Tvix) {
        fields.push(("name".into(), Value::String(n.to_owned())));
    }
    if let Some(v) = format.version() {
        fields.push(("version".into(), Value::from(v)));
    }
    Ok(object(fields))
}

fn names_list(names: &std::collections::BTreeSet<String>) -> Value {
    Value::Array(names.iter().cloned().map(Value::String).collect())
}

/// `{"dynamicOutputs": {…}, "outputs": […]}`.
fn nested(node: &DynamicOutputs) -> Value {
    let dynamic: BTreeMap<&String, &DynamicOutputs> = node.dynamic.iter().collect();
    object(vec![
        (
            "dynamicOutputs".into(),
            object(
                dynamic
                    .into_iter()
                    .map(|(k, v)| (k.clone(), nested(v)))
                    .collect(),
            ),
        ),
        ("outputs".into(), names_list(&node.outputs)),
    ])
}
