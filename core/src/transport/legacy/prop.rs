//! Property tests for the encrypted frame decoder: arbitrary bytes give a frame
//! or an error, never a panic.

use super::*;
use proptest::prelude::*;

fn keys() -> Keys {
    Keys::derive(b"proptest shared secret")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bodies_are_refused_without_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(open(&keys(), &body).is_err());
    }

    #[test]
    fn authentic_garbage_decrypts_or_fails_padding(blocks in 1usize..8, fill in any::<u8>(), iv in any::<[u8; 16]>()) {
        // A correct tag over random ciphertext reaches the padding check.
        let k = keys();
        let mut data = iv.to_vec();
        data.extend(std::iter::repeat_n(fill, blocks * BLOCK));
        let mut mac = k.mac();
        mac.update(&data);
        data.extend_from_slice(&mac.finalize().into_bytes());
        match open(&k, &data) {
            Ok(_) | Err(Close::BadPadding) => {}
            Err(other) => prop_assert!(false, "unexpected {other}"),
        }
    }

    #[test]
    fn sealed_text_opens_again(text in proptest::collection::vec(any::<u8>(), 0..300)) {
        let k = keys();
        let mut framed = Vec::new();
        let s = Sealer::new(&k);
        s.seal(&s.cipher(), &text, &mut framed);
        let len = u32::from_be_bytes([framed[0], framed[1], framed[2], framed[3]]) as usize;
        prop_assert!(frame_len_ok(len));
        prop_assert_eq!(open(&k, &framed[4..]).ok(), Some(text));
    }

    #[test]
    fn any_length_prefix_is_checked(len in any::<u32>()) {
        let ok = frame_len_ok(len as usize);
        prop_assert!(!ok || (len as usize >= MIN_FRAME && len as usize <= MAX_FRAME));
    }
}
