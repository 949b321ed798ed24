//! One labelled example as read from a task's file, before any formulation
//! (text-to-text or encoder) or tokenisation.

/// A named input text: `("sentence1", "A man is playing a flute.")`. The name
/// is the field label of the T5 source (`sentence1: …`).
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub name: String,
    pub text: String,
}

impl Text {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Text {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// An example's gold label.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// An index into the task's class names.
    Class(usize),
    /// A regression target.
    Score(f64),
    /// ReCoRD: the gold answers (any is right), one of `Example::candidates`.
    Answers(Vec<String>),
}

/// One example.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The input texts in the order the T5 source lists them.
    pub texts: Vec<Text>,
    pub label: Label,
    /// Examples that are scored together: a MultiRC question (its answers are
    /// separate examples) or a ReCoRD query. Splits keep a group together.
    pub group: Option<u64>,
    /// ReCoRD: the passage's entities, one of which fills `@placeholder`.
    pub candidates: Vec<String>,
}

impl Example {
    pub fn new(texts: Vec<Text>, label: Label) -> Self {
        Example {
            texts,
            label,
            group: None,
            candidates: Vec::new(),
        }
    }

    /// The text of the field `name`, or "" when the example has none.
    pub fn text(&self, name: &str) -> &str {
        self.texts
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.text.as_str())
            .unwrap_or("")
    }
}
