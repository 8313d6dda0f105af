//! Config errors in the user's words: the server hands a capability its
//! `[capabilities.NAME]` table as one line of JSON, so serde_json's line and
//! column mean nothing to the user; the key they point at does.

/// `[capabilities.NAME] KEY: expected an integer, found a string` from a serde_json error.
pub fn explain(cap: &str, json: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]);
    if let Some(rest) = text.strip_prefix("unknown field ") {
        let rest = rest.replacen(", expected", " (expected", 1);
        return format!("[capabilities.{cap}] unknown key {rest})");
    }
    let key = key_at(json, e.column().saturating_sub(1));
    let what = match text.strip_prefix("invalid type: ").and_then(|t| t.split_once(", expected ")) {
        Some((found, expected)) => format!("expected {}, found {}", kind(expected), kind(found)),
        None => text.to_owned(),
    };
    match key {
        Some(k) => format!("[capabilities.{cap}] {k}: {what}"),
        None => format!("[capabilities.{cap}] {what}"),
    }
}

/// The key whose value spans byte `col` of the one-line JSON object.
fn key_at(json: &str, col: usize) -> Option<String> {
    let before = json.get(..col.min(json.len()))?;
    let colon = before.rfind("\":")?;
    let start = before[..colon].rfind('"')? + 1;
    Some(before[start..colon].to_owned())
}

/// serde's names for types, in TOML's words.
fn kind(t: &str) -> &'static str {
    let t = t.trim();
    let word = t.split([' ', '`']).next().unwrap_or("");
    match word {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize"
        | "integer" => "an integer",
        "f32" | "f64" | "floating" => "a number",
        "string" | "a" if t.contains("string") => "a string",
        "boolean" | "bool" => "a boolean",
        "map" | "struct" => "a table",
        "sequence" => "an array",
        _ if t.contains("string") => "a string",
        _ if t.contains("boolean") => "a boolean",
        _ => "another type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        max_size: Option<u64>,
        name: Option<String>,
        on: Option<bool>,
    }

    fn err(json: &str) -> String {
        explain("x", json, &serde_json::from_str::<Cfg>(json).unwrap_err())
    }

    #[test]
    fn errors_name_the_table_and_the_key() {
        assert_eq!(err(r#"{"max_size":"big"}"#), "[capabilities.x] max_size: expected an integer, found a string");
        assert_eq!(err(r#"{"name":"a","on":5}"#), "[capabilities.x] on: expected a boolean, found an integer");
        assert_eq!(err(r#"{"max_size":1,"name":true}"#), "[capabilities.x] name: expected a string, found a boolean");
        assert_eq!(
            err(r#"{"max_sise":1}"#),
            "[capabilities.x] unknown key `max_sise` (expected one of `max_size`, `name`, `on`)"
        );
    }
}
