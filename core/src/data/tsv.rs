//! GLUE's tab-separated files: one row a line, no quoting (quote characters are
//! text, as the GLUE processors read them with `quotechar=None`), a header
//! line except in CoLA. Columns are found by header name so that the extra
//! columns of some copies (MNLI's `label1..label5`) do not matter.

use crate::data::DataError;

/// A parsed TSV file: its header and its rows, each with its 1-based line.
#[derive(Debug)]
pub struct Tsv<'a> {
    file: &'a str,
    header: Vec<String>,
    rows: Vec<(usize, Vec<&'a str>)>,
}

impl<'a> Tsv<'a> {
    /// Splits `text` (the contents of `file`) into a header and rows. Every row
    /// must have as many fields as the header. Empty lines are skipped.
    pub fn with_header(file: &'a str, text: &'a str) -> Result<Self, DataError> {
        let mut lines = lines(text);
        let (_, header_line) = lines.next().ok_or_else(|| DataError::MalformedFile {
            file: file.to_string(),
            message: "the file is empty (a header line was expected)".into(),
        })?;
        let header: Vec<String> = header_line.split('\t').map(str::to_string).collect();
        let rows = split_rows(file, lines, header.len())?;
        Ok(Tsv { file, header, rows })
    }

    /// A file without a header whose rows have `columns` fields (CoLA).
    pub fn without_header(file: &'a str, text: &'a str, columns: usize) -> Result<Self, DataError> {
        let header = (0..columns).map(|i| format!("column {}", i + 1)).collect();
        let rows = split_rows(file, lines(text), columns)?;
        Ok(Tsv { file, header, rows })
    }

    pub fn file(&self) -> &str {
        self.file
    }

    /// The index of the column called `name`, or an error listing the columns.
    pub fn column(&self, name: &str) -> Result<usize, DataError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DataError::missing_column(self.file, name, &self.header))
    }

    /// The rows as `(line, fields)`.
    pub fn rows(&self) -> &[(usize, Vec<&'a str>)] {
        &self.rows
    }
}

/// Non-empty lines with their 1-based numbers; a UTF-8 byte-order mark and a
/// trailing `\r` are dropped.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.is_empty())
}

fn split_rows<'a>(
    file: &str,
    lines: impl Iterator<Item = (usize, &'a str)>,
    columns: usize,
) -> Result<Vec<(usize, Vec<&'a str>)>, DataError> {
    lines
        .map(|(number, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields.len() != columns {
                return Err(DataError::row(
                    file,
                    number,
                    format!(
                        "expected {columns} tab-separated columns, found {}",
                        fields.len()
                    ),
                ));
            }
            Ok((number, fields))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_rows_with_line_numbers() {
        let text = "\u{feff}a\tb\r\n1\t\"x\n\n2\ty\n";
        let tsv = Tsv::with_header("f.tsv", text).unwrap();
        assert_eq!(tsv.column("b").unwrap(), 1);
        assert_eq!(tsv.rows().len(), 2);
        assert_eq!(tsv.rows()[0], (2, vec!["1", "\"x"]));
        assert_eq!(tsv.rows()[1].0, 4);
    }

    #[test]
    fn wrong_column_count_names_file_and_line() {
        let err = Tsv::with_header("dev.tsv", "a\tb\n1\t2\n3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.tsv:3: expected 2 tab-separated columns, found 1"
        );
    }

    #[test]
    fn missing_column_lists_the_columns() {
        let tsv = Tsv::with_header("dev.tsv", "sentence\tlabel\n").unwrap();
        let err = tsv.column("score").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev.tsv: no column \"score\" (columns: sentence, label)"
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(Tsv::with_header("x.tsv", "").is_err());
        assert_eq!(Tsv::without_header("x.tsv", "", 4).unwrap().rows().len(), 0);
    }
}
