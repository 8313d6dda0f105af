//! Property tests for the argument splitting every command uses.

use super::split;
use proptest::prelude::*;

proptest! {
    #[test]
    fn split_keeps_every_byte_and_respects_the_count(text in "\\PC{0,80}", n in 1usize..5) {
        let parts = split(&text, n);
        prop_assert!(!parts.is_empty() && parts.len() <= n);
        prop_assert_eq!(parts.join(" "), text.clone());
        // Only the last part may keep spaces (the password, the message).
        for p in &parts[..parts.len() - 1] {
            prop_assert!(!p.contains(' '));
        }
    }
}
