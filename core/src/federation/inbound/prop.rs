//! Property tests: whatever a peer sends, the parse and shape-check steps of the
//! handler answer (an accepted request or an error object) and never panic.

use super::*;
use proptest::prelude::*;

const KINDS: &[&str] = &[
    "remote_pm",
    "room_join",
    "room_leave",
    "room_message",
    "room_act",
    "room_members_request",
    "room_event",
    "status_request",
    "s2s_ping",
    "x",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("room".to_owned()),
                    Just("sender".to_owned()),
                    Just("payload".to_owned()),
                    Just("event".to_owned()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The handler's steps before any dialback or action.
fn precheck(line: &[u8]) -> Result<(), Value> {
    let v: Value = serde_json::from_slice(line).map_err(|e| msg::error(&e.to_string()))?;
    if !v.is_object() {
        return Err(bad("not a JSON object"));
    }
    let head: Head = parse(&v)?;
    check(&head.kind, &v).map(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_an_answer(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(answer) = precheck(&line) {
            prop_assert!(answer.is_object());
        }
    }

    #[test]
    fn arbitrary_json_gets_an_answer(mut v in json_value(), kind in 0usize..KINDS.len()) {
        if let Value::Object(m) = &mut v {
            m.insert("type".into(), Value::from(KINDS[kind]));
        }
        let line = v.to_string();
        if let Err(answer) = precheck(line.as_bytes()) {
            prop_assert!(answer.is_object());
        }
    }
}
