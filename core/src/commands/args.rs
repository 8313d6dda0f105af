//! Splitting a message into arguments — the one place it happens — and the
//! usage error a command answers when they do not fit.

/// A usage error: `Usage: ...`, followed by the greeting before login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The usage text.
    pub text: &'static str,
    /// Followed by the greeting (commands before login).
    pub greet: bool,
}

impl Usage {
    /// A usage error after login.
    pub fn of(text: &'static str) -> Usage {
        Usage { text, greet: false }
    }

    /// A usage error before login (the greeting follows).
    pub fn then_greet(text: &'static str) -> Usage {
        Usage { text, greet: true }
    }
}

/// Splits a message on single spaces into at most `N` words, the last one
/// keeping the rest (spaces in passwords and messages); missing words are `None`.
pub fn words<const N: usize>(text: &str) -> [Option<&str>; N] {
    let mut out = [None; N];
    for (slot, part) in out.iter_mut().zip(text.splitn(N, ' ')) {
        *slot = Some(part);
    }
    out
}

/// A word that is present and not empty.
pub fn given(word: Option<&str>) -> Option<&str> {
    word.filter(|w| !w.is_empty())
}

/// The one argument of `/CMD ARG` (the rest of the line).
pub fn one(text: &str) -> Option<&str> {
    given(words::<2>(text)[1])
}

/// The two arguments of `/CMD A REST` when both are there and not empty.
pub fn two(text: &str) -> Option<(&str, &str)> {
    match words::<3>(text) {
        [_, a, b] => given(a).zip(given(b)),
    }
}

/// The one argument of an admin command, trimmed.
pub fn one_trimmed(text: &str) -> Option<&str> {
    given(words::<2>(text)[1].map(str::trim))
}

/// The action of `/act ACTION`: present and not only spaces (kept as sent).
pub fn non_blank(text: &str) -> Option<&str> {
    words::<2>(text)[1].filter(|a| !a.trim().is_empty())
}

/// Declares a parsed command type and its `parse`: `Name(split, usage)` for
/// `/CMD ARG` (a tuple around the argument `split` finds), `Name { a, b }
/// (usage)` for `/CMD A REST`. The command's file adds its `apply`.
macro_rules! command {
    ($(#[$doc:meta])* $name:ident($split:path, $usage:expr)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<'a>(pub &'a str);

        impl<'a> $name<'a> {
            /// Parses the message; a usage error when the argument is missing.
            pub fn parse(text: &'a str) -> Result<Self, $crate::commands::args::Usage> {
                $split(text).map($name).ok_or($usage)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident { $a:ident, $b:ident } ($usage:expr)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<'a> {
            #[doc = "The first argument."]
            pub $a: &'a str,
            #[doc = "The rest of the line (may hold spaces)."]
            pub $b: &'a str,
        }

        impl<'a> $name<'a> {
            /// Parses the message; a usage error when an argument is missing.
            pub fn parse(text: &'a str) -> Result<Self, $crate::commands::args::Usage> {
                $crate::commands::args::two(text).map(|($a, $b)| $name { $a, $b }).ok_or($usage)
            }
        }
    };
}
pub(crate) use command;
