//! SuperGLUE's JSON-lines files: one JSON object a line. Field access goes
//! through [`Row`], whose errors name the file, the line and the fields the
//! object does have.

use serde_json::{Map, Value};

use crate::data::DataError;

/// One parsed JSONL line.
pub struct Row<'a> {
    pub file: &'a str,
    pub line: usize,
    object: Map<String, Value>,
}

/// Parses every non-empty line of `text` as a JSON object.
pub fn rows<'a>(file: &'a str, text: &str) -> Result<Vec<Row<'a>>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let line_number = i + 1;
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(object)) => Ok(Row {
                    file,
                    line: line_number,
                    object,
                }),
                Ok(_) => Err(DataError::row(file, line_number, "not a JSON object")),
                Err(e) => Err(DataError::row(
                    file,
                    line_number,
                    format!("invalid JSON: {e}"),
                )),
            }
        })
        .collect()
}

impl<'a> Row<'a> {
    /// A row over an object nested in another row (ReCoRD's `passage`).
    pub fn nested(&self, key: &str) -> Result<Row<'a>, DataError> {
        match self.get(key)? {
            Value::Object(object) => Ok(Row {
                file: self.file,
                line: self.line,
                object: object.clone(),
            }),
            _ => Err(self.error(format!("field \"{key}\" is not an object"))),
        }
    }

    pub fn error(&self, message: impl Into<String>) -> DataError {
        DataError::row(self.file, self.line, message)
    }

    pub fn get(&self, key: &str) -> Result<&Value, DataError> {
        self.object.get(key).ok_or_else(|| {
            let fields: Vec<&str> = self.object.keys().map(String::as_str).collect();
            self.error(format!(
                "no field \"{key}\" (fields: {})",
                fields.join(", ")
            ))
        })
    }

    pub fn str(&self, key: &str) -> Result<&str, DataError> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| self.error(format!("field \"{key}\" is not a string")))
    }

    pub fn u64(&self, key: &str) -> Result<u64, DataError> {
        self.get(key)?
            .as_u64()
            .ok_or_else(|| self.error(format!("field \"{key}\" is not a non-negative integer")))
    }

    pub fn array(&self, key: &str) -> Result<&Vec<Value>, DataError> {
        self.get(key)?
            .as_array()
            .ok_or_else(|| self.error(format!("field \"{key}\" is not an array")))
    }

    /// The objects of the array field `key`, each as a row of the same line.
    pub fn objects(&self, key: &str) -> Result<Vec<Row<'a>>, DataError> {
        self.array(key)?
            .iter()
            .map(|value| match value {
                Value::Object(object) => Ok(Row {
                    file: self.file,
                    line: self.line,
                    object: object.clone(),
                }),
                _ => Err(self.error(format!("an element of \"{key}\" is not an object"))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_line_and_fields() {
        let text = "{\"a\": 1}\n\n{\"b\": \"x\", \"c\": 2}\n[1]\n";
        let err = rows("val.jsonl", text).err().unwrap();
        assert_eq!(err.to_string(), "val.jsonl:4: not a JSON object");
        let parsed = rows("val.jsonl", "{\"a\": 1}\n\n{\"b\": \"x\", \"c\": 2}\n").unwrap();
        assert_eq!(parsed[1].line, 3);
        let err = parsed[1].str("label").err().unwrap();
        assert_eq!(
            err.to_string(),
            "val.jsonl:3: no field \"label\" (fields: b, c)"
        );
        let err = parsed[0].str("a").err().unwrap();
        assert_eq!(err.to_string(), "val.jsonl:1: field \"a\" is not a string");
        let err = rows("val.jsonl", "{oops\n").err().unwrap().to_string();
        assert!(err.starts_with("val.jsonl:1: invalid JSON"), "{err}");
    }
}
