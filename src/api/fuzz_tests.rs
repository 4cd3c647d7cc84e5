//! Property tests over what callers send the API (issue 27 §2; cases and seed: `crate::fuzz`):
//! `Range` headers, REST JSON bodies (structs only from objects), signaling messages, join
//! tokens, RTMP URLs, layout files and configuration files. Nothing may panic; what is accepted
//! keeps the documented contract.

use super::download::parse_range;
use crate::auth::{Auth, Role};
use crate::protocol::{ClientMessage, parse_client_message};
use crate::wire::{CreateRoomRequest, MuteRequest, PatchRoomRequest, TokenRequest};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A JSON value of bounded depth with awkward leaves (the names a body or message might use).
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::hash_map(field_name(), inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "type|sdp|candidate|sdpMid|sdpMLineIndex|text|screenTrackId|maxHeight|mode|canvas|micOff|cameraOff|handRaised",
        "audio|video|name|role|ttlSeconds|identity|startsAt|endsAt|maxParticipants|composite|metadata|layout|pin|width|height|fps",
        "[a-zA-Z]{1,10}",
    ]
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn fuzz_range_headers(h in prop_oneof!["(bytes|BYTES|items)=[ 0-9,-]{0,16}", ".{0,24}"], len in prop_oneof![Just(0u64), 1u64..10_000, Just(u64::MAX)]) {
        if let Ok(Some(r)) = parse_range(Some(&h), len) {
            prop_assert!(r.start <= r.end && r.end < len, "{h:?} of {len}: {}..={}", r.start, r.end);
        }
    }

    #[test]
    fn fuzz_rest_bodies(v in any_json()) {
        let text = v.to_string();
        fn check<T: serde::de::DeserializeOwned>(text: &str, v: &Value) -> Result<(), TestCaseError> {
            if crate::wire::objects::from_slice::<T>(text.as_bytes()).is_ok() {
                prop_assert!(v.is_object(), "a body that is not an object was taken: {text}");
            }
            Ok(())
        }
        check::<MuteRequest>(&text, &v)?;
        check::<TokenRequest>(&text, &v)?;
        check::<CreateRoomRequest>(&text, &v)?;
        check::<PatchRoomRequest>(&text, &v)?;
    }

    #[test]
    fn fuzz_signaling_messages(v in any_json(), kind in "offer|candidate|leave|chat|videoPreference|setState|[a-z]{0,6}", raw in ".{0,60}") {
        let _ = parse_client_message(&raw);
        let mut v = v;
        if let Value::Object(m) = &mut v {
            m.insert("type".into(), json!(kind));
        }
        let text = v.to_string();
        if let Ok(msg) = parse_client_message(&text) {
            prop_assert!(v.is_object(), "{text}");
            // Every message is flat: no field may have come as an array or an object.
            let nested = v.as_object().into_iter().flat_map(|m| m.values()).any(|f| f.is_array() || f.is_object());
            prop_assert!(!nested, "{text}");
            if let (ClientMessage::Chat { text: t }, Some(sent)) = (&msg, v.get("text")) {
                prop_assert_eq!(Some(t.as_str()), sent.as_str());
            }
        }
    }

    #[test]
    fn fuzz_join_tokens(cut in 0usize..400, flip in any::<u8>(), junk in "[A-Za-z0-9_.=-]{0,300}", room in "[a-z]{1,8}") {
        let auth = Auth::new(vec![], b"0123456789abcdef0123456789abcdef");
        let other = Auth::new(vec![], b"another-secret-another-secret-00");
        let (token, _) = auth.issue(&room, "ident", "Name", Role::Participant, crate::time::now_unix(), 600).expect("issued");
        prop_assert!(auth.verify_join(&token, &room).is_ok());
        prop_assert!(other.verify_token(&token).is_err(), "a token of another secret");
        prop_assert!(auth.verify_token(&junk).is_err() || junk == token);
        // One byte changed anywhere: refused, or (base64 padding bits) the same claims.
        let mut bytes = token.clone().into_bytes();
        let at = cut % bytes.len();
        bytes[at] ^= flip | 1;
        if let Ok(t) = String::from_utf8(bytes)
            && let Ok(c) = auth.verify_token(&t)
        {
            prop_assert_eq!((c.sub.as_str(), c.room.as_str()), ("ident", room.as_str()));
        }
        let _ = auth.caller(Some(&format!("Bearer {junk}")));
        let _ = auth.caller(Some(&junk));
    }

    #[test]
    fn fuzz_rtmp_urls(u in prop_oneof!["rtmps?://[a-z0-9.\\[\\]:-]{0,30}(:[0-9]{0,6})?(/[ -~]{0,20}){0,3}", ".{0,60}"]) {
        if crate::egress::rtmp::RtmpUrl::parse(&u).is_ok() {
            let t = u.trim();
            prop_assert!(t.starts_with("rtmp://") || t.starts_with("rtmps://"), "{u:?}");
        }
    }

    #[test]
    fn fuzz_layout_files(v in any_json(), raw in ".{0,80}") {
        let _ = crate::layout::Layouts::parse(&raw);
        let _ = crate::layout::Layouts::parse(&v.to_string());
        let base: Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/layouts.json")).expect("the layouts file"))
            .expect("JSON");
        // The shipped file with one value replaced somewhere.
        if let (Value::Object(mut m), Some(name)) = (base.clone(), base.as_object().and_then(|m| m.keys().next().cloned())) {
            m.insert(name, v);
            let _ = crate::layout::Layouts::parse(&Value::Object(m).to_string());
        }
    }

    #[test]
    fn fuzz_config_files(lines in prop::collection::vec(config_line(), 0..8)) {
        if let Ok(c) = crate::config::Config::from_toml(&lines.concat()) {
            let _ = c.validate();
        }
    }
}

fn config_line() -> impl Strategy<Value = String> {
    let key = "listen|max_rooms|max_participants|resume_seconds|max_mixed_voices|http_read_timeout_seconds|early_join_seconds|rtc_ip|public_ip|[a-z_]{1,12}";
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "\"[ -~]{0,20}\"",
        Just("\"127.0.0.1:0\"".to_owned()),
        Just("true".to_owned()),
        "\\[[0-9, \"a-z]{0,12}\\]",
    ];
    prop_oneof![
        4 => (key, value).prop_map(|(k, v)| format!("{k} = {v}\n")),
        1 => "\\[\\[?(turn|rate_limit|webhook|composite|composite.ladder|[a-z]{1,6})\\]\\]?\n",
        1 => "[ -~]{0,30}\n",
    ]
}
