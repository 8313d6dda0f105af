//! Property tests: arbitrary input in arbitrary chunks never panics and only
//! ever yields well-formed items.

use super::*;
use proptest::prelude::*;

fn bytes_with_newlines() -> impl Strategy<Value = Vec<u8>> {
    // Mostly small bytes so `\n`, `\r` and `/` show up often; sometimes a long run.
    prop_oneof![
        4 => proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'/'), any::<u8>()], 0..200),
        1 => (1usize..40_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chunks_never_panic_and_messages_are_well_formed(
        chunks in proptest::collection::vec(bytes_with_newlines(), 0..8),
        quiet in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let mut f = Framer::new();
        let mut out = VecDeque::new();
        for (i, c) in chunks.iter().enumerate() {
            f.push(c, &mut out);
            if quiet[i % quiet.len()] {
                f.flush(&mut out);
            }
        }
        f.flush(&mut out);
        prop_assert!(!f.has_pending());
        for item in out {
            match item {
                Inbound::Message(m) => {
                    prop_assert!(!m.contains('\n'));
                    prop_assert!(!m.is_empty());
                    prop_assert!(m.len() <= MAX_MESSAGE);
                }
                Inbound::TooLong | Inbound::BadUtf8 => {}
            }
        }
    }

    #[test]
    fn splitting_does_not_depend_on_chunk_boundaries(text in "[a-z/\\r\\n ]{0,120}", cut in 0usize..120) {
        let bytes = text.as_bytes();
        let cut = cut.min(bytes.len());
        let mut whole = VecDeque::new();
        split_complete(bytes, &mut whole);
        let mut f = Framer::new();
        let mut parts = VecDeque::new();
        f.push(&bytes[..cut], &mut parts);
        f.push(&bytes[cut..], &mut parts);
        f.flush(&mut parts);
        prop_assert_eq!(whole, parts);
    }
}
