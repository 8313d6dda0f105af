//! Rules for account and subserver names (protocol.md §3, §4), chat text and passwords.
//!
//! Beyond the protocol's rules, names refuse invisible characters (Unicode format
//! characters such as bidi overrides and zero-width spaces, fillers, variation
//! selectors), and account names must be written in one script (`аdmin` with a
//! Cyrillic `а` is refused) and must not look like an existing account
//! ([`skeleton`], UTS #39). Existing accounts are not re-checked: they keep working.

use unicode_security::MixedScript;

/// Longest account or subserver name, in characters.
pub const MAX_NAME: usize = 32;

/// Normalises a new account name (`@` becomes `_`, as the reference does) and checks it.
pub fn normalise_account(name: &str) -> Result<String, &'static str> {
    let name = name.replace('@', "_");
    check_common(&name)?;
    Ok(name)
}

/// Checks a name and password for /register: the rules above, one script only,
/// and no control characters in the password. (Remote users' names from other
/// hosts are checked with [`normalise_account`] alone.)
pub fn check_new_account(name: &str, password: &str) -> Result<String, &'static str> {
    let name = normalise_account(name)?;
    if !name.is_single_script() {
        return Err("Account names must be written in one script (no lookalike letters).");
    }
    check_password(password)?;
    Ok(name)
}

/// The UTS #39 confusable skeleton of an account name: two names with the same
/// skeleton look alike, so the second one is refused at registration.
pub fn skeleton(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// Invisible characters: format characters (Unicode category Cf: bidi controls,
/// zero-width characters, soft hyphen, …) and other characters that render as
/// nothing (fillers, variation selectors, combining grapheme joiner).
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{600}'..='\u{605}' | '\u{6DD}' | '\u{70F}'
        | '\u{890}' | '\u{891}' | '\u{8E2}' | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidi overrides and isolates: they reorder the rest of a line as displayed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{61C}')
}

/// A new password: no control characters (a CR inside one is refused, see
/// protocol.md §2: a lone CR is not a line end, so `pw\r/login ...` is one message).
pub fn check_password(pw: &str) -> Result<(), &'static str> {
    if pw.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
        return Err("Passwords cannot contain control characters.");
    }
    Ok(())
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
    if name.chars().any(is_invisible) {
        return Err("Names cannot contain invisible or formatting characters.");
    }
    if name.starts_with('/') {
        return Err("Names cannot start with '/'.");
    }
    Ok(())
}

/// Text a client wants shown to others: no control characters except TAB and
/// no Unicode line separators (protocol.md §2), so nobody can forge server lines.
pub fn check_text(text: &str) -> Result<(), &'static str> {
    if text.chars().any(|c| (c.is_control() && c != '\t') || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}') {
        return Err("Messages cannot contain control characters or line separators.");
    }
    if text.chars().any(is_bidi_control) {
        return Err("Messages cannot contain bidirectional override characters.");
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
        assert!(normalise_account("\u{202e}evil").is_err());
        assert!(normalise_account("ad\u{200b}min").is_err());
        assert!(check_room_name("r\u{feff}").is_err());
        assert!(check_new_account("\u{430}dmin", "pw").is_err(), "Cyrillic a + Latin");
        assert!(normalise_account("\u{430}dmin").is_ok(), "remote names are not script-checked");
        assert!(check_new_account("Ωμεγα_2", "pw").is_ok() && check_new_account("Борис", "pw").is_ok());
        assert!(check_new_account("bob", "p\rw").is_err());
        assert_eq!(skeleton("admin"), skeleton("аdmin"));
        assert_eq!(skeleton("modern"), skeleton("rnodern"));
        assert!(check_password("pw\r/login x pw").is_err() && check_password("p w").is_ok());
    }

    #[test]
    fn text() {
        assert!(check_text("hi\tthere").is_ok());
        assert!(check_text("a\u{2028}b").is_err());
        assert!(check_text("a\u{7}b").is_err());
        assert!(check_text("a\u{202e}b").is_err() && check_text("a\u{2067}b").is_err());
        assert!(check_text("emoji \u{1F600} ok").is_ok());
    }
}
