//! A plan's budget: a parameter count (`102600`) or a share of the backbone
//! (`"0.5%"`), as `bipeft search --budget` takes it. The count it stands for
//! is known only once the backbone is (the cell records it).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a budget can be, for error messages.
pub const BUDGET_FORMS: &str =
    "give a positive parameter count (102600) or a share of the backbone up to 100% (\"0.5%\")";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Count(u64),
    /// Percent of the backbone's parameters (`0.5` is 0.5%).
    Percent(f64),
}

impl std::str::FromStr for Budget {
    type Err = Error;
    fn from_str(text: &str) -> Result<Budget> {
        Budget::parse(text)
    }
}

impl Budget {
    /// Parses `102600` or `0.0139%`.
    pub fn parse(text: &str) -> Result<Budget> {
        let text = text.trim();
        let bad = || Error::InvalidInput(format!("budget `{text}`: {BUDGET_FORMS}"));
        if let Some(share) = text.strip_suffix('%') {
            let percent: f64 = share.trim().parse().map_err(|_| bad())?;
            if !(percent.is_finite() && percent > 0.0 && percent <= 100.0) {
                return Err(bad());
            }
            Ok(Budget::Percent(percent))
        } else {
            match text.parse::<u64>() {
                Ok(n) if n > 0 => Ok(Budget::Count(n)),
                _ => Err(bad()),
            }
        }
    }

    /// The parameter count on a backbone of `backbone_params` parameters.
    pub fn resolve(&self, backbone_params: u64) -> u64 {
        match *self {
            Budget::Count(n) => n,
            Budget::Percent(p) => crate::search::budget_from_percent(p, backbone_params),
        }
    }

    /// The text `bipeft search --budget` takes, also the budget's name in reports.
    pub fn label(&self) -> String {
        match self {
            Budget::Count(n) => n.to_string(),
            Budget::Percent(p) => format!("{p}%"),
        }
    }

    /// The label made safe for file names (`0.5%` → `0.5pct`).
    pub fn file_label(&self) -> String {
        self.label().replace('%', "pct")
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl Serialize for Budget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Budget::Count(n) => s.serialize_u64(*n),
            Budget::Percent(_) => s.serialize_str(&self.label()),
        }
    }
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Count(n) => n.to_string(),
            Raw::Text(t) => t,
        };
        Budget::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_shares() {
        assert_eq!(Budget::parse("102600").unwrap(), Budget::Count(102600));
        assert_eq!(Budget::parse(" 0.5% ").unwrap(), Budget::Percent(0.5));
        assert_eq!(Budget::parse("0.5%").unwrap().label(), "0.5%");
        assert_eq!(Budget::parse("0.5%").unwrap().file_label(), "0.5pct");
        for bad in ["0", "-3", "x%", "0%", "nan%", "200%", "", "1e3"] {
            let err = Budget::parse(bad).unwrap_err().to_string();
            assert!(err.contains("budget"), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_keeps_numbers_numbers() {
        let list: Vec<Budget> = serde_json::from_str(r#"[1000, "0.25%"]"#).unwrap();
        assert_eq!(list, vec![Budget::Count(1000), Budget::Percent(0.25)]);
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"[1000,"0.25%"]"#);
        assert!(serde_json::from_str::<Budget>(r#""many""#).is_err());
    }
}
