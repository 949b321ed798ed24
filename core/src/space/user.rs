//! Search spaces the user writes as JSON: kinds × target-name regexes ×
//! candidate ranks.
//!
//! ```json
//! {
//!   "name": "qv-lora",
//!   "ranks": [1, 4, 8],
//!   "rules": [
//!     {"kind": "lora", "targets": ["encoder\\.layer\\.\\d+\\.attention\\.self\\.(query|value)"]},
//!     {"kind": "bitfit", "targets": [".*LayerNorm"], "ranks": []},
//!     {"kind": "adapter", "points": ["FfnSublayer"], "ranks": [2, 4]}
//!   ]
//! }
//! ```
//!
//! Each target is matched against the whole slot name. A rule may instead (or
//! also) name hook points. Every rule must match at least one slot, and no slot
//! may be claimed by two rules, so a typo is an error rather than a smaller space.

use std::path::Path;

use crate::error::{Error, Result};

use super::def::SpaceDef;
use super::presets;

impl SpaceDef {
    /// Parses a space from JSON text; `file` names it in error messages.
    pub fn from_json(text: &str, file: &str) -> Result<SpaceDef> {
        let def: SpaceDef = serde_json::from_str(text).map_err(|e| Error::MalformedConfig {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        if def.rules.is_empty() {
            return Err(Error::MalformedConfig {
                file: file.to_string(),
                message: "a search space needs at least one rule".into(),
            });
        }
        Ok(def)
    }

    /// Reads a space from a JSON file.
    pub fn from_file(path: &Path) -> Result<SpaceDef> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// What `--space` accepts: a built-in name (`s1`, `s2`, `lora`) or a JSON file.
    pub fn resolve(arg: &str) -> Result<SpaceDef> {
        if presets::PRESETS.contains(&arg) {
            return presets::preset(arg);
        }
        let path = Path::new(arg);
        if path.is_file() {
            return Self::from_file(path);
        }
        Err(Error::InvalidInput(format!(
            "search space \"{arg}\" is neither built in ({}) nor a file",
            presets::PRESETS.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Kind;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"{
          "name": "qv-lora",
          "ranks": [1, 4, 8],
          "rules": [
            {"kind": "lora", "targets": ["encoder\\.layer\\.\\d+\\.attention\\.self\\.(query|value)"]},
            {"kind": "bitfit", "targets": [".*LayerNorm"], "ranks": []},
            {"kind": "adapter", "points": ["FfnSublayer"], "ranks": [2, 4]}
          ]
        }"#;
        let def = SpaceDef::from_json(text, "space.json").unwrap();
        assert_eq!(def.rules.len(), 3);
        assert_eq!(def.rules[2].kind, Kind::Adapter);
        assert_eq!(def.rules[2].ranks, vec![2, 4]);
    }

    #[test]
    fn typos_are_errors() {
        let err = SpaceDef::from_json(
            r#"{"name": "x", "rules": [{"kind": "lora", "target": ["q"]}]}"#,
            "s.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("malformed s.json: unknown field `target`"),
            "{err}"
        );
        let err = SpaceDef::from_json(r#"{"name": "x", "rules": [{"kind": "loraa"}]}"#, "s.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `loraa`"), "{err}");
        let err = SpaceDef::resolve("s3").unwrap_err().to_string();
        assert!(
            err.contains("neither built in (s1, s2, lora) nor a file"),
            "{err}"
        );
    }
}
