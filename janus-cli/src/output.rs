//! Text output: aligned tables and key/value lists; and JSON.

use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output is gone (`janus-cli … | head`).
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output. A reader that went away (a closed pipe) is no error: the
/// output is dropped and [`stdout_closed`] says so, so that a command can stop (`watch`).
pub fn write_out(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if out.write_fmt(args).and_then(|()| out.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::SeqCst);
    }
}

/// Whether standard output was closed by its reader.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// `print!` that survives a closed pipe (see [`write_out`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_out(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe (see [`write_out`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// A table with a header row, printed with its columns aligned.
pub struct Table {
    header: Vec<String>,
    /// Whether the header row is printed.
    titled: bool,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            titled: true,
            rows: Vec::new(),
        }
    }

    /// A table of `columns` columns without a header row.
    pub fn untitled(columns: usize) -> Self {
        Table {
            header: vec![String::new(); columns],
            titled: false,
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text: columns separated by two spaces, the last one not padded.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == n {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<width$}  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        if self.titled {
            line(&self.header);
        }
        for row in &self.rows {
            line(row);
        }
        out
    }
}

/// A JSON value as a table cell: strings without quotes, nothing for null.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An object's fields as `key  value` lines: scalars as they are, arrays of scalars joined,
/// nested objects and arrays as compact JSON.
pub fn key_values(obj: &serde_json::Map<String, Value>) -> String {
    let mut t = Table::untitled(2);
    for (k, v) in obj {
        let text = match v {
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                items.iter().map(cell).collect::<Vec<_>>().join(", ")
            }
            other => cell(other),
        };
        t.row(vec![k.clone(), text]);
    }
    t.render()
}

/// A JSON value as an indented outline for people: in each object, scalars first as aligned
/// `key  value` lines, then each nested object or array of objects under its key, indented.
pub fn outline(v: &Value) -> String {
    let mut out = String::new();
    outline_into(&mut out, v, 0);
    out
}

fn is_scalar_list(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(|i| !i.is_object() && !i.is_array()),
        Value::Object(_) => false,
        _ => true,
    }
}

fn outline_into(out: &mut String, v: &Value, depth: usize) {
    let indent = "  ".repeat(depth);
    match v {
        Value::Object(obj) => {
            let flat: serde_json::Map<String, Value> = obj
                .iter()
                .filter(|(_, v)| is_scalar_list(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for line in key_values(&flat).lines() {
                let _ = writeln!(out, "{indent}{line}");
            }
            for (k, v) in obj.iter().filter(|(_, v)| !is_scalar_list(v)) {
                if v.as_object().is_some_and(|o| o.is_empty()) {
                    let _ = writeln!(out, "{indent}{k}  {{}}");
                    continue;
                }
                let _ = writeln!(out, "{indent}{k}:");
                outline_into(out, v, depth + 1);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if is_scalar_list(item) {
                    let _ = writeln!(out, "{indent}- {}", cell(item));
                } else {
                    let _ = writeln!(out, "{indent}[{i}]:");
                    outline_into(out, item, depth + 1);
                }
            }
        }
        other => {
            let _ = writeln!(out, "{indent}{}", cell(other));
        }
    }
}

/// Prints a value as pretty JSON.
pub fn print_json(v: &Value) {
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_their_columns() {
        let mut t = Table::new(&["SESSION", "HANDLES"]);
        t.row(vec!["1".into(), "2".into()]);
        t.row(vec!["1234567".into(), "10".into()]);
        assert_eq!(t.render(), "SESSION  HANDLES\n1        2\n1234567  10\n");
    }

    #[test]
    fn outlines_put_nested_objects_under_their_key() {
        // In sorted order: the same whether serde_json keeps insertion order or not.
        let v = json!({"flags": {"ice": true, "ready": false}, "id": 7, "name": "x",
            "sdps": {}, "streams": [{"mid": "0"}]});
        assert_eq!(
            outline(&v),
            "id    7\nname  x\nflags:\n  ice    true\n  ready  false\nsdps  {}\nstreams:\n  [0]:\n    mid  0\n"
        );
    }

    #[test]
    fn key_values_flatten_what_reads_well() {
        let obj = json!({"a": 1, "list": ["x", "y"], "nested": {"b": true}, "s": "text"});
        let text = key_values(obj.as_object().unwrap());
        assert_eq!(
            text,
            "a       1\nlist    x, y\nnested  {\"b\":true}\ns       text\n"
        );
    }
}
