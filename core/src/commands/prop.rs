//! Property tests for the argument splitting every command uses.

use super::args::words;
use proptest::prelude::*;

proptest! {
    #[test]
    fn words_keep_every_byte_and_respect_the_count(text in "\\PC{0,80}") {
        let parts: Vec<&str> = words::<4>(&text).into_iter().flatten().collect();
        prop_assert!(!parts.is_empty() && parts.len() <= 4);
        prop_assert_eq!(parts.join(" "), text.clone());
        // Only the last part may keep spaces (the password, the message).
        for p in &parts[..parts.len() - 1] {
            prop_assert!(!p.contains(' '));
        }
    }
}
