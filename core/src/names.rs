//! Rules for account and subserver names (WIRE §3.1, §3.2).

/// Longest account or subserver name, in characters.
pub const MAX_NAME: usize = 32;

/// Normalises a new account name (`@` becomes `_`, as the reference does) and checks it.
pub fn normalise_account(name: &str) -> Result<String, &'static str> {
    let name = name.replace('@', "_");
    check_common(&name)?;
    Ok(name)
}

/// Checks a subserver name for /create_server.
pub fn check_room_name(name: &str) -> Result<(), &'static str> {
    if name.contains('@') {
        return Err("Server names cannot contain '@'.");
    }
    check_common(name)
}

fn check_common(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("Names cannot be empty.");
    }
    if name.chars().count() > MAX_NAME {
        return Err("Names can be at most 32 characters long.");
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace() || c == ',' || c == '\u{2028}' || c == '\u{2029}') {
        return Err("Names cannot contain spaces, commas or control characters.");
    }
    if name.starts_with('/') {
        return Err("Names cannot start with '/'.");
    }
    Ok(())
}

/// Text a client wants shown to others: no control characters except TAB and
/// no Unicode line separators (WIRE §2), so nobody can forge server lines.
pub fn check_text(text: &str) -> Result<(), &'static str> {
    if text.chars().any(|c| (c.is_control() && c != '\t') || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}') {
        return Err("Messages cannot contain control characters or line separators.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalise_account("a@b").unwrap(), "a_b");
        assert!(normalise_account("a b").is_err());
        assert!(normalise_account("a,b").is_err());
        assert!(normalise_account(&"x".repeat(33)).is_err());
        assert!(check_room_name("x@y").is_err());
        assert!(check_room_name("lobby").is_ok());
    }

    #[test]
    fn text() {
        assert!(check_text("hi\tthere").is_ok());
        assert!(check_text("a\u{2028}b").is_err());
        assert!(check_text("a\u{7}b").is_err());
    }
}
