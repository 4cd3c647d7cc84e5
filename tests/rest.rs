//! REST contract, one test per endpoint with every error path, plus the auth matrix: every
//! protected call × every kind of credential. Driven in-process with `warp::test` (no sockets).

use serde_json::{Value, json};
use tessera::auth::{Auth, Role};
use tessera::config::Config;
use tessera::time::now_unix;
use tokio_util::sync::CancellationToken;

const KEY: &str = "ops:0123456789abcdef-secret";
const TOKEN_SECRET: &str = "test-token-secret-0123456789abcdef";

struct Api {
    state: tessera::api::AppState,
    _cancel: tokio_util::sync::DropGuard,
}

fn config(keys: bool) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("literal"),
        database: ":memory:".into(),
        api_keys: if keys { tessera::config::parse_api_keys(KEY).expect("valid") } else { vec![] },
        token_secret: Some(TOKEN_SECRET.into()),
        public_url: Some("https://calls.example.com".into()),
        ..Config::default()
    }
}

impl Api {
    async fn new(keys: bool) -> Self {
        tessera::telemetry::init();
        let cancel = CancellationToken::new();
        let state = tessera::server::build(config(keys), &cancel).await.expect("builds");
        Self { state, _cancel: cancel.drop_guard() }
    }

    async fn call(&self, method: &str, path: &str, auth: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let mut req = warp::test::request().method(method).path(path);
        if let Some(a) = auth {
            req = req.header("authorization", format!("Bearer {a}"));
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.reply(&tessera::api::routes(self.state.clone())).await;
        let v = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        (resp.status().as_u16(), v)
    }

    async fn create(&self, body: Value) -> Value {
        let (st, v) = self.call("POST", "/api/v1/rooms", Some(KEY), Some(&body.to_string())).await;
        assert_eq!(st, 201, "{v}");
        v
    }
}

/// Asserts an error response: status, code, and a non-empty message.
#[track_caller]
fn err(got: (u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(got.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", got.1);
}

fn in_secs(s: i64) -> String {
    tessera::time::format_unix(now_unix() + s)
}

#[tokio::test]
async fn create_room_now_and_scheduled_and_every_bad_body() {
    let api = Api::new(true).await;
    let v = api.create(json!({})).await;
    let room = &v["room"];
    assert_eq!(room["state"], "open");
    assert_eq!(room["id"].as_str().map(str::len), Some(22));
    assert_eq!((room["emptyTimeoutSeconds"].as_u64(), room["maxParticipants"].as_u64()), (Some(300), Some(16)));
    // The ladder's rungs in effect are shown: derived from the composite when not set.
    let derived = json!({"l1": {"width": 640, "height": 360, "fps": 30, "bitrateKbps": 450},
        "l2": {"width": 320, "height": 180, "fps": 15, "bitrateKbps": 120}});
    assert_eq!(room["composite"], json!({"width": 1280, "height": 720, "fps": 30, "bitrateKbps": 1500, "ladder": derived}));
    assert!(v["hostToken"].as_str().is_some_and(|t| t.split('.').count() == 3), "a JWT: {v}");
    assert_eq!(v["joinUrl"], format!("https://calls.example.com/?room={}", room["id"].as_str().expect("id")));

    let starts = in_secs(3600);
    let v = api
        .create(json!({"name": "Dentist", "startsAt": starts, "endsAt": in_secs(7200), "emptyTimeoutSeconds": 60,
            "maxParticipants": 2, "composite": {"width": 640, "height": 360, "fps": 15, "bitrateKbps": 600}, "metadata": {"appointment": 7}}))
        .await;
    let room = &v["room"];
    assert_eq!((room["state"].as_str(), room["startsAt"].as_str()), (Some("scheduled"), Some(starts.as_str())));
    assert_eq!(room["metadata"], json!({"appointment": 7}));
    assert_eq!(room["composite"]["width"], 640);
    assert_eq!(room["composite"]["ladder"]["l2"], json!({"width": 160, "height": 90, "fps": 15, "bitrateKbps": 48}));

    // A composite with its own ladder: GET shows the rungs given; a rung not given is derived.
    let rung = |w: u32, h: u32, fps: u32, kbps: u32| json!({"width": w, "height": h, "fps": fps, "bitrateKbps": kbps});
    let composite = |ladder: Value| json!({"width": 1920, "height": 1080, "fps": 30, "bitrateKbps": 3000, "ladder": ladder});
    let ladder = json!({"l1": rung(960, 540, 24, 800), "l2": rung(480, 270, 10, 150)});
    let v = api.create(json!({"composite": composite(ladder.clone())})).await;
    let id = v["room"]["id"].as_str().expect("id");
    assert_eq!(v["room"]["composite"]["ladder"], ladder);
    let (st, got) = api.call("GET", &format!("/api/v1/rooms/{id}"), Some(KEY), None).await;
    assert_eq!(st, 200, "{got}");
    assert_eq!(got["composite"], composite(ladder.clone()));
    let v = api.create(json!({"composite": composite(json!({"l2": rung(480, 270, 10, 150)}))})).await;
    assert_eq!(v["room"]["composite"]["ladder"], json!({"l1": rung(960, 540, 30, 900), "l2": rung(480, 270, 10, 150)}));
    // A bad ladder: 400 `bad_request`, naming the rung and the field.
    for (ladder, names) in [
        (json!({"l1": rung(2560, 1440, 30, 900)}), "composite.ladder.l1.width/height"),
        (json!({"l1": rung(961, 540, 30, 900)}), "composite.ladder.l1.width/height"),
        (json!({"l1": rung(960, 540, 30, 3001)}), "composite.ladder.l1.bitrateKbps"),
        (json!({"l1": rung(960, 540, 10, 800), "l2": rung(480, 270, 15, 150)}), "composite.ladder.l2.fps"),
        (json!({"l2": rung(480, 270, 10, 20)}), "composite.ladder.l2.bitrateKbps"),
        (json!({"l2": {"width": 480, "height": 270}}), "missing field `fps`"),
        (json!({"l0": rung(480, 270, 10, 150)}), "l0"),
    ] {
        let got = api.call("POST", "/api/v1/rooms", Some(KEY), Some(&json!({"composite": composite(ladder.clone())}).to_string())).await;
        assert!(got.1["message"].as_str().is_some_and(|m| m.contains(names)), "{ladder}: {}", got.1);
        err(got, 400, "bad_request");
    }

    for (body, why) in [
        ("{nope", "malformed JSON"),
        (r#"{"title":"x"}"#, "unknown field"),
        (r#"{"name":""}"#, "empty name"),
        (r#"{"startsAt":"tomorrow"}"#, "bad time"),
        (r#"{"endsAt":"2001-01-01T00:00:00Z"}"#, "endsAt in the past"),
        (r#"{"maxParticipants":26}"#, "over 25"),
        (r#"{"maxParticipants":0}"#, "zero"),
        (r#"{"emptyTimeoutSeconds":0}"#, "zero timeout"),
        (r#"{"composite":{"width":641,"height":360,"fps":30,"bitrateKbps":500}}"#, "odd width"),
        (r#"{"composite":{"width":640}}"#, "partial composite"),
        (r#"{"maxParticipants":"many"}"#, "wrong type"),
        // An array where the document says object (serde_json alone reads structs from arrays).
        ("[]", "array body"),
        (r#"{"composite":[640,360,30,500]}"#, "array composite"),
        (r#"{"composite":{"width":160,"height":90,"fps":3,"bitrateKbps":100,"ladder":[]}}"#, "array ladder"),
    ] {
        let got = api.call("POST", "/api/v1/rooms", Some(KEY), Some(body)).await;
        assert_eq!(got.0, 400, "{why}: {}", got.1);
        err(got, 400, "bad_request");
    }
    let s = in_secs(3600);
    err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&json!({"startsAt": s, "endsAt": s}).to_string())).await, 400, "bad_request");
    let big_meta = json!({"metadata": {"blob": "x".repeat(5000)}}).to_string();
    err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&big_meta)).await, 400, "bad_request");
    err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&" ".repeat(20_000))).await, 413, "payload_too_large");
}

#[tokio::test]
async fn list_rooms_filters_and_pages() {
    let api = Api::new(true).await;
    let a = api.create(json!({"name": "a"})).await["room"]["id"].clone();
    let b = api.create(json!({"name": "b", "startsAt": in_secs(3600)})).await["room"]["id"].clone();
    let c = api.create(json!({"name": "c", "startsAt": in_secs(86_400 * 3)})).await["room"]["id"].clone();
    let d = api.create(json!({"name": "d"})).await["room"]["id"].clone();
    assert_eq!(api.call("DELETE", &format!("/api/v1/rooms/{}", d.as_str().expect("id")), Some(KEY), None).await.0, 200);

    let ids = |v: &Value| v["rooms"].as_array().expect("rooms").iter().map(|r| r["id"].clone()).collect::<Vec<_>>();
    let (st, all) = api.call("GET", "/api/v1/rooms", Some(KEY), None).await;
    assert_eq!(st, 200);
    assert_eq!(ids(&all), [a.clone(), b.clone(), c.clone(), d.clone()]);
    assert_eq!(all["total"], 4);
    assert!(all.get("nextOffset").is_none());
    assert_eq!(ids(&api.call("GET", "/api/v1/rooms?state=open", Some(KEY), None).await.1), std::slice::from_ref(&a));
    assert_eq!(ids(&api.call("GET", "/api/v1/rooms?state=scheduled", Some(KEY), None).await.1), [b.clone(), c.clone()]);
    assert_eq!(ids(&api.call("GET", "/api/v1/rooms?state=ended", Some(KEY), None).await.1), std::slice::from_ref(&d));
    let window = format!("/api/v1/rooms?state=scheduled&startsFrom={}&startsBefore={}", in_secs(0), in_secs(86_400));
    assert_eq!(ids(&api.call("GET", &window, Some(KEY), None).await.1), std::slice::from_ref(&b));
    let (_, page) = api.call("GET", "/api/v1/rooms?limit=3", Some(KEY), None).await;
    assert_eq!((ids(&page).len(), page["nextOffset"].as_u64()), (3, Some(3)));
    let (_, page) = api.call("GET", "/api/v1/rooms?limit=3&offset=3", Some(KEY), None).await;
    assert_eq!(ids(&page), std::slice::from_ref(&d));

    for q in ["state=done", "limit=500", "limit=x", "offset=-1", "startsFrom=soon", "color=red"] {
        err(api.call("GET", &format!("/api/v1/rooms?{q}"), Some(KEY), None).await, 400, "bad_request");
    }
}

#[tokio::test]
async fn get_patch_and_delete_a_room() {
    let api = Api::new(true).await;
    let id = api.create(json!({"name": "Standup", "endsAt": in_secs(3600)})).await["room"]["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/rooms/{id}");
    let (st, v) = api.call("GET", &path, Some(KEY), None).await;
    assert_eq!((st, v["name"].as_str(), v["participants"].clone()), (200, Some("Standup"), json!([])));
    assert!(v["media"].is_null(), "no media before anyone joins");

    let patch = json!({"name": "Retro", "endsAt": null, "emptyTimeoutSeconds": 30, "maxParticipants": 4, "metadata": {"team": "a"}});
    let (st, v) = api.call("PATCH", &path, Some(KEY), Some(&patch.to_string())).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!((v["name"].as_str(), v["emptyTimeoutSeconds"].as_u64(), v["maxParticipants"].as_u64()), (Some("Retro"), Some(30), Some(4)));
    assert!(v.get("endsAt").is_none(), "null clears endsAt: {v}");
    assert_eq!(api.call("GET", &path, Some(KEY), None).await.1["metadata"], json!({"team": "a"}));
    // An open room cannot be rescheduled.
    err(api.call("PATCH", &path, Some(KEY), Some(&json!({"startsAt": in_secs(600)}).to_string())).await, 400, "bad_request");
    for body in ["", "{", r#"{"nmae":"x"}"#, r#"{"maxParticipants":99}"#, r#"{"name":""}"#, r#"{"endsAt":"2001-01-01T00:00:00Z"}"#] {
        err(api.call("PATCH", &path, Some(KEY), Some(body)).await, 400, "bad_request");
    }
    err(api.call("PATCH", "/api/v1/rooms/NoSuchRoom", Some(KEY), Some(r#"{"name":"x"}"#)).await, 404, "room_not_found");

    // A scheduled room can be rescheduled.
    let sid = api.create(json!({"startsAt": in_secs(3600)})).await["room"]["id"].as_str().expect("id").to_owned();
    let later = in_secs(7200);
    let (st, v) = api.call("PATCH", &format!("/api/v1/rooms/{sid}"), Some(KEY), Some(&json!({"startsAt": later}).to_string())).await;
    assert_eq!((st, v["startsAt"].as_str()), (200, Some(later.as_str())));

    let (st, v) = api.call("DELETE", &path, Some(KEY), None).await;
    assert_eq!((st, v["state"].as_str(), v["endReason"].as_str()), (200, Some("ended"), Some("deleted")));
    let (st, again) = api.call("DELETE", &path, Some(KEY), None).await;
    assert_eq!((st, again["endedAt"].clone()), (200, v["endedAt"].clone()), "ending twice is harmless");
    assert_eq!(api.call("GET", &path, Some(KEY), None).await.1["state"], "ended");
    err(api.call("PATCH", &path, Some(KEY), Some(r#"{"name":"x"}"#)).await, 409, "room_ended");
    err(api.call("DELETE", "/api/v1/rooms/NoSuchRoom", Some(KEY), None).await, 404, "room_not_found");
    err(api.call("GET", "/api/v1/rooms/NoSuchRoom", Some(KEY), None).await, 404, "room_not_found");
}

#[tokio::test]
async fn participants_kick_mute_and_tokens() {
    let api = Api::new(true).await;
    let id = api.create(json!({})).await["room"]["id"].as_str().expect("id").to_owned();
    let (st, v) = api.call("GET", &format!("/api/v1/rooms/{id}/participants"), Some(KEY), None).await;
    assert_eq!((st, v), (200, json!({"participants": []})));
    err(api.call("DELETE", &format!("/api/v1/rooms/{id}/participants/nobody"), Some(KEY), None).await, 404, "participant_not_found");
    let mute = format!("/api/v1/rooms/{id}/participants/nobody/mute");
    err(api.call("POST", &mute, Some(KEY), Some(r#"{"audio":true}"#)).await, 404, "participant_not_found");
    for body in ["", "{}", r#"{"audio":"yes"}"#, r#"{"audio":true,"loud":1}"#, "[true]", "[true,false]"] {
        err(api.call("POST", &mute, Some(KEY), Some(body)).await, 400, "bad_request");
    }

    let tokens = format!("/api/v1/rooms/{id}/tokens");
    let (st, v) = api.call("POST", &tokens, Some(KEY), Some(r#"{"name":"Ada","identity":"ada@example.com","ttlSeconds":120}"#)).await;
    assert_eq!(st, 201, "{v}");
    let token = v["token"].as_str().expect("token");
    let auth = Auth::new(vec![], TOKEN_SECRET.as_bytes());
    let claims = auth.verify_join(token, &id).expect("a valid token for this room");
    assert_eq!((claims.sub.as_str(), claims.name.as_str(), claims.role), ("ada@example.com", "Ada", Role::Participant));
    assert!((claims.exp - now_unix() - 120).abs() <= 2);
    assert_eq!(v["joinUrl"], format!("https://calls.example.com/?room={id}&token={token}"));
    let (_, host) = api.call("POST", &tokens, Some(KEY), Some(r#"{"name":"Boss","role":"host"}"#)).await;
    assert_eq!(auth.verify_join(host["token"].as_str().expect("token"), &id).expect("valid").role, Role::Host);
    for body in [
        "",
        r#"{}"#,
        r#"{"name":""}"#,
        r#"{"name":"x","role":"god"}"#,
        r#"{"name":"x","ttlSeconds":0}"#,
        r#"{"name":"x","identity":"a b"}"#,
    ] {
        err(api.call("POST", &tokens, Some(KEY), Some(body)).await, 400, "bad_request");
    }
    err(api.call("POST", "/api/v1/rooms/NoSuchRoom/tokens", Some(KEY), Some(r#"{"name":"x"}"#)).await, 404, "room_not_found");
    api.call("DELETE", &format!("/api/v1/rooms/{id}"), Some(KEY), None).await;
    err(api.call("POST", &tokens, Some(KEY), Some(r#"{"name":"x"}"#)).await, 409, "room_ended");
    err(api.call("GET", &format!("/api/v1/rooms/{id}/participants"), Some(KEY), None).await, 409, "room_ended");
}

#[tokio::test]
async fn health_client_and_unknown_paths() {
    let api = Api::new(true).await;
    let (st, h) = api.call("GET", "/healthz", None, None).await;
    assert_eq!((st, h["status"].as_str(), h["participantTasks"].as_u64()), (200, Some("ok"), Some(0)));
    let resp = warp::test::request().path("/").reply(&tessera::api::routes(api.state.clone())).await;
    assert_eq!(resp.status(), 200);
    assert!(String::from_utf8_lossy(resp.body()).contains("New room"));
    err(api.call("GET", "/api/v1/nothing-here", Some(KEY), None).await, 404, "not_found");
    err(api.call("PUT", "/api/v1/rooms", Some(KEY), Some("{}")).await, 405, "method_not_allowed");
}

#[tokio::test]
async fn openapi_document_lists_every_endpoint() {
    let api = Api::new(true).await;
    let (st, doc) = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    for (path, methods) in [
        ("/api/v1/rooms", &["get", "post"][..]),
        ("/api/v1/rooms/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/rooms/{id}/participants", &["get"][..]),
        ("/api/v1/rooms/{id}/participants/{pid}", &["delete"][..]),
        ("/api/v1/rooms/{id}/participants/{pid}/mute", &["post"][..]),
        ("/api/v1/rooms/{id}/tokens", &["post"][..]),
        ("/api/v1/rooms/{id}/recordings", &["post"][..]),
        ("/api/v1/recordings", &["get"][..]),
        ("/api/v1/recordings/{id}", &["get", "delete"][..]),
        ("/api/v1/recordings/{id}/stop", &["post"][..]),
        ("/api/v1/recordings/{id}/file", &["get"][..]),
        ("/api/v1/recordings/{id}/parts/{n}", &["get"][..]),
        ("/api/v1/rooms/{id}/streams", &["get", "post"][..]),
        ("/api/v1/rooms/{id}/streams/{streamId}", &["get", "delete"][..]),
        ("/live/{roomId}/{file}", &["get"][..]),
        ("/livez", &["get"][..]),
        ("/readyz", &["get"][..]),
        ("/healthz", &["get"][..]),
        ("/metrics", &["get"][..]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing from the OpenAPI document");
        }
    }
    // The probes take no credentials and no body: none of the API's shared refusals is theirs.
    for probe in ["/livez", "/readyz", "/healthz", "/metrics"] {
        let responses = &doc["paths"][probe]["get"]["responses"];
        for status in ["401", "413", "500"] {
            assert!(responses[status].is_null(), "{probe} documents {status}: {responses}");
        }
        assert!(doc["paths"][probe]["get"]["security"].is_null(), "{probe} asks for credentials");
    }
    for probe in ["/livez", "/readyz", "/healthz"] {
        let (st, v) = api.call("GET", probe, None, None).await;
        assert_eq!(st, 200, "{probe}: {v}");
        assert!(v["status"].is_string(), "{probe}: {v}");
    }
    assert!(doc["components"]["schemas"]["CreateRoomRequest"].is_object());
    for schema in ["RecordingView", "RecordingList", "StreamView", "StartStreamRequest"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema} missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn open_mode_needs_no_credential_but_checks_one_given() {
    let api = Api::new(false).await;
    let (st, v) = api.call("POST", "/api/v1/rooms", None, None).await;
    assert_eq!(st, 201, "{v}");
    let id = v["room"]["id"].as_str().expect("id");
    assert_eq!(api.call("GET", "/api/v1/rooms", None, None).await.0, 200);
    err(api.call("GET", "/api/v1/rooms", Some("forged.token.here"), None).await, 401, "invalid_credentials");
    // A participant token presented in open mode is still a participant token.
    let (_, t) = api.call("POST", &format!("/api/v1/rooms/{id}/tokens"), None, Some(r#"{"name":"p"}"#)).await;
    let p = t["token"].as_str().expect("token");
    err(api.call("DELETE", &format!("/api/v1/rooms/{id}"), Some(p), None).await, 403, "forbidden");
}

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cred {
    None,
    Participant,
    Host,
    OtherRoomHost,
    ApiKey,
    WrongSecret,
    Expired,
    Forged,
}

/// Who may make a call.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Policy {
    Admin,
    Host,
}

fn expected(policy: Policy, cred: Cred) -> Result<(), (u16, &'static str)> {
    match (cred, policy) {
        (Cred::ApiKey, _) => Ok(()),
        (Cred::Host, Policy::Host) => Ok(()),
        (Cred::None, _) => Err((401, "unauthorized")),
        (Cred::WrongSecret | Cred::Forged, _) => Err((401, "invalid_credentials")),
        (Cred::Expired, _) => Err((401, "token_expired")),
        (Cred::OtherRoomHost, Policy::Host) => Err((403, "wrong_room")),
        (Cred::Participant | Cred::Host | Cred::OtherRoomHost, _) => Err((403, "forbidden")),
    }
}

#[tokio::test]
async fn auth_matrix_for_every_protected_call() {
    let api = Api::new(true).await;
    let auth = Auth::new(vec![], TOKEN_SECRET.as_bytes());
    let forger = Auth::new(vec![], b"not-the-server-secret-0123456789abc");
    let now = now_unix();
    let other = api.create(json!({})).await;
    let other_host = other["hostToken"].as_str().expect("token").to_owned();

    // (method, path after the room id, body, policy, status when allowed)
    let calls: &[(&str, &str, Option<&str>, Policy, u16)] = &[
        ("POST", "/api/v1/rooms", Some("{}"), Policy::Admin, 201),
        ("GET", "/api/v1/rooms", None, Policy::Admin, 200),
        ("GET", "/api/v1/rooms/{id}", None, Policy::Host, 200),
        ("PATCH", "/api/v1/rooms/{id}", Some(r#"{"name":"x"}"#), Policy::Admin, 200),
        ("PATCH", "/api/v1/rooms/{id}", Some(r#"{"layout":"speaker"}"#), Policy::Host, 200),
        // The host's allow-list: layout, pin, hideAudioOnly, chatEnabled, hls, locked, lobby; anything more needs a key.
        (
            "PATCH",
            "/api/v1/rooms/{id}",
            Some(r#"{"hideAudioOnly":true,"chatEnabled":false,"pin":null,"hls":false,"locked":false,"lobby":false}"#),
            Policy::Host,
            200,
        ),
        ("PATCH", "/api/v1/rooms/{id}", Some(r#"{"layout":"grid","public":false}"#), Policy::Admin, 200),
        ("PATCH", "/api/v1/rooms/{id}", Some(r#"{"autoRecord":false}"#), Policy::Admin, 200),
        ("DELETE", "/api/v1/rooms/{id}", None, Policy::Host, 200),
        ("GET", "/api/v1/rooms/{id}/participants", None, Policy::Host, 200),
        ("DELETE", "/api/v1/rooms/{id}/participants/nobody", None, Policy::Host, 404),
        ("POST", "/api/v1/rooms/{id}/participants/nobody/mute", Some(r#"{"audio":true}"#), Policy::Host, 404),
        ("POST", "/api/v1/rooms/{id}/participants/nobody/role", Some(r#"{"role":"host"}"#), Policy::Host, 404),
        ("POST", "/api/v1/rooms/{id}/tokens", Some(r#"{"name":"x"}"#), Policy::Admin, 201),
    ];
    let creds =
        [Cred::None, Cred::Participant, Cred::Host, Cred::OtherRoomHost, Cred::ApiKey, Cred::WrongSecret, Cred::Expired, Cred::Forged];
    for &(method, path, body, policy, ok_status) in calls {
        for cred in creds {
            // A fresh room per case, so a DELETE in one case cannot change another.
            let created = api.create(json!({})).await;
            let id = created["room"]["id"].as_str().expect("id").to_owned();
            let host = created["hostToken"].as_str().expect("token").to_owned();
            let credential = match cred {
                Cred::None => None,
                Cred::Participant => Some(auth.issue(&id, "p1", "P", Role::Participant, now, 600).expect("token").0),
                Cred::Host => Some(host),
                Cred::OtherRoomHost => Some(other_host.clone()),
                Cred::ApiKey => Some(KEY.to_owned()),
                Cred::WrongSecret => Some("ops:not-the-right-secret".to_owned()),
                Cred::Expired => Some(auth.issue(&id, "h", "H", Role::Host, now - 7200, 600).expect("token").0),
                Cred::Forged => Some(forger.issue(&id, "h", "H", Role::Host, now, 600).expect("token").0),
            };
            let got = api.call(method, &path.replace("{id}", &id), credential.as_deref(), body).await;
            let case = format!("{method} {path} with {cred:?}: {} {}", got.0, got.1);
            match expected(policy, cred) {
                Ok(()) => assert_eq!(got.0, ok_status, "{case}"),
                Err((status, code)) => {
                    assert_eq!((got.0, got.1["code"].as_str()), (status, Some(code)), "{case}");
                }
            }
        }
    }
}

impl Api {
    /// A request with the given headers, answered whole (status, headers, body).
    async fn raw(&self, method: &str, path: &str, headers: &[(&str, &[u8])], body: Option<&str>) -> warp::http::Response<bytes::Bytes> {
        let mut req = warp::test::request().method(method).path(path);
        for (name, value) in headers {
            req = req.header(*name, warp::http::HeaderValue::from_bytes(value).expect("a header value"));
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        req.reply(&tessera::api::routes(self.state.clone())).await
    }
}

fn json_of(resp: &warp::http::Response<bytes::Bytes>) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or(Value::Null)
}

#[tokio::test]
async fn metadata_is_a_json_object_or_null() {
    let api = Api::new(true).await;
    for bad in ["[1,2,3]", "\"x\"", "7", "true"] {
        let body = format!(r#"{{"metadata":{bad}}}"#);
        let got = api.call("POST", "/api/v1/rooms", Some(KEY), Some(&body)).await;
        assert!(got.1["message"].as_str().is_some_and(|m| m.contains("metadata must be a JSON object or null")), "{bad}: {}", got.1);
        err(got, 400, "bad_request");
    }
    let (st, listed) = api.call("GET", "/api/v1/rooms", Some(KEY), None).await;
    assert_eq!((st, listed["total"].as_u64()), (200, Some(0)), "nothing was stored: {listed}");

    let v = api.create(json!({"metadata": null})).await;
    assert!(v["room"].get("metadata").is_none(), "{v}");
    let path = format!("/api/v1/rooms/{}", v["room"]["id"].as_str().expect("id"));
    for bad in ["[1,2,3]", "\"x\"", "7", "true"] {
        err(api.call("PATCH", &path, Some(KEY), Some(&format!(r#"{{"metadata":{bad}}}"#))).await, 400, "bad_request");
    }
    let (st, v) = api.call("PATCH", &path, Some(KEY), Some(r#"{"metadata":{"a":[1,2,3]}}"#)).await;
    assert_eq!((st, v["metadata"].clone()), (200, json!({"a": [1, 2, 3]})), "{v}");
    let (st, v) = api.call("PATCH", &path, Some(KEY), Some(r#"{"metadata":null}"#)).await;
    assert_eq!(st, 200, "{v}");
    assert!(v.get("metadata").is_none(), "null clears it: {v}");
    let (_, listed) = api.call("GET", "/api/v1/rooms", Some(KEY), None).await;
    assert!(listed["rooms"].as_array().expect("rooms").iter().all(|r| r.get("metadata").is_none_or(Value::is_object)), "{listed}");
}

#[tokio::test]
async fn method_not_allowed_names_the_allowed_methods() {
    let api = Api::new(true).await;
    let auth: &[(&str, &[u8])] = &[("authorization", KEY_HEADER)];
    for (method, path, allow) in [
        ("PUT", "/api/v1/rooms", "GET, POST"),
        ("TRACE", "/api/v1/rooms/abc", "GET, PATCH, DELETE"),
        ("POST", "/api/v1/rooms/abc/participants", "GET"),
        ("GET", "/api/v1/rooms/abc/participants/p1/mute", "POST"),
        ("DELETE", "/api/v1/rooms/abc/streams", "GET, POST"),
        ("PUT", "/api/v1/recordings/r1", "GET, DELETE"),
        ("POST", "/api/v1/recordings/r1/parts/2", "GET"),
        ("OPTIONS", "/live/abc/index.m3u8", "GET"),
        ("POST", "/api/v1/openapi.json", "GET"),
        ("POST", "/healthz", "GET"),
        ("POST", "/api/v1/rooms/abc/ws", "GET"),
        ("DELETE", "/index.html", "GET"),
    ] {
        let resp = api.raw(method, path, auth, None).await;
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
        assert_eq!(json_of(&resp)["code"], "method_not_allowed", "{method} {path}");
    }
    // A path nothing serves is not found, whatever the method.
    let resp = api.raw("PUT", "/api/v1/no-such-thing", auth, None).await;
    assert_eq!((resp.status().as_u16(), json_of(&resp)["code"].as_str()), (404, Some("not_found")));
    assert!(resp.headers().get("allow").is_none());
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let api = Api::new(true).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let value = format!("{scheme} {KEY}");
        let resp = api.raw("GET", "/api/v1/rooms", &[("authorization", value.as_bytes())], None).await;
        assert_eq!(resp.status(), 200, "{scheme}: {}", json_of(&resp));
    }
    for (value, code) in [
        (&b"Basic b3BzOnNlY3JldA=="[..], "invalid_credentials"),
        (b"bearer", "invalid_credentials"),
        (b"bearerops:0123456789abcdef-secret", "invalid_credentials"),
        (b"bearer ops:0123456789abcdef-secret\xe9", "invalid_credentials"),
    ] {
        let resp = api.raw("GET", "/api/v1/rooms", &[("authorization", value)], None).await;
        assert_eq!((resp.status().as_u16(), json_of(&resp)["code"].as_str()), (401, Some(code)), "{}", String::from_utf8_lossy(value));
        assert_eq!(resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
    }
    // A Range that is not ASCII is ignored, not a bad request.
    let resp = api.raw("GET", "/live/abc/index.m3u8", &[("authorization", KEY_HEADER), ("range", b"bytes=\xe9-")], None).await;
    assert_eq!((resp.status().as_u16(), json_of(&resp)["code"].as_str()), (404, Some("room_not_found")));
}

const KEY_HEADER: &[u8] = b"Bearer ops:0123456789abcdef-secret";

#[tokio::test]
async fn limits_the_document_states_are_the_ones_enforced() {
    let api = Api::new(true).await;
    let (_, doc) = api.call("GET", "/api/v1/openapi.json", None, None).await;
    let prop = |schema: &str, field: &str| doc["components"]["schemas"][schema]["properties"][field].clone();
    assert_eq!(prop("CreateRoomRequest", "maxParticipants")["maximum"], u64::from(tessera::records::settings::MAX_PARTICIPANTS));
    assert_eq!(prop("CreateRoomRequest", "name")["maxLength"], tessera::records::settings::MAX_NAME_CHARS as u64);
    assert_eq!(prop("PatchRoomRequest", "emptyTimeoutSeconds")["maximum"], 604_800);
    assert_eq!(prop("CreateRoomRequest", "startsAt")["format"], "date-time");
    assert_eq!(prop("RoomView", "createdAt")["format"], "date-time");
    assert_eq!(prop("CompositeSettings", "width")["maximum"], 1920);
    assert_eq!(prop("CompositeSettings", "height")["multipleOf"], 2);
    assert!(prop("CompositeSettings", "ladder").is_object(), "the ladder is documented");
    let min_kbps = tessera::records::composite::MIN_RUNG_KBPS;
    assert_eq!(prop("RungSettings", "bitrateKbps")["minimum"], min_kbps);
    assert_eq!(prop("RungSettings", "width")["minimum"], tessera::records::composite::MIN_RUNG_SIZE);
    assert_eq!(prop("TokenRequest", "ttlSeconds")["maximum"], 2_592_000);
    assert!(prop("CreateRoomRequest", "layout")["enum"].as_array().is_some_and(|l| l.contains(&json!("speaker"))));
    let create = &doc["paths"]["/api/v1/rooms"]["post"];
    assert!(create["requestBody"]["description"].as_str().is_some_and(|d| d.contains("16384 bytes")), "{create}");
    assert!(create["responses"]["413"].is_object() && create["responses"]["429"].is_object(), "{create}");
    assert!(doc["paths"]["/api/v1/rooms/{id}/streams/{streamId}"]["get"]["responses"]["409"].is_object());
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for (status, r) in op["responses"].as_object().expect("responses") {
                assert!(r["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status} has no description");
            }
        }
    }

    // Each stated bound is where the server draws the line.
    let over = |field: &str, v: Value| json!({ field: v }).to_string();
    for (field, ok, bad) in [("maxParticipants", 25, 26), ("emptyTimeoutSeconds", 604_800, 604_801)] {
        assert_eq!(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&over(field, json!(ok)))).await.0, 201, "{field} {ok}");
        err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&over(field, json!(bad)))).await, 400, "bad_request");
    }
    let l2 = |kbps: u32| {
        json!({"composite": {"width": 640, "height": 360, "fps": 30, "bitrateKbps": 600,
        "ladder": {"l2": {"width": 16, "height": 16, "fps": 1, "bitrateKbps": kbps}}}})
        .to_string()
    };
    assert_eq!(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&l2(min_kbps))).await.0, 201);
    err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&l2(min_kbps - 1))).await, 400, "bad_request");
    // JSON Schema's integers include 5.0.
    assert_eq!(api.call("POST", "/api/v1/rooms", Some(KEY), Some(r#"{"maxParticipants":5.0}"#)).await.0, 201);
    // maxLength counts what is sent, before the surrounding white space is trimmed.
    let name = |n: usize| json!({"name": format!("{} ", "n".repeat(n - 1))}).to_string();
    assert_eq!(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&name(100))).await.0, 201);
    err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&name(101))).await, 400, "bad_request");
    // Kept times stay four-digit years in UTC.
    for t in ["9999-12-31T20:00:00-05:00", "0000-01-01T00:00:00Z"] {
        err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(&json!({"startsAt": t}).to_string())).await, 400, "bad_request");
    }
    let v = api.create(json!({"startsAt": "9998-12-31T20:00:00-05:00"})).await;
    assert_eq!(v["room"]["startsAt"], "9999-01-01T01:00:00Z");
    err(api.call("GET", "/api/v1/rooms?limit=0", Some(KEY), None).await, 400, "bad_request");
    // An empty body or `null` is a room with every default.
    for body in [None, Some("null")] {
        assert_eq!(api.call("POST", "/api/v1/rooms", Some(KEY), body).await.0, 201, "{body:?}");
    }
    err(api.call("POST", "/api/v1/rooms", Some(KEY), Some(" ")).await, 400, "bad_request");
    let id = v["room"]["id"].as_str().expect("id");
    let tokens = format!("/api/v1/rooms/{id}/tokens");
    let token_name = |n: usize| json!({"name": format!("{} ", "t".repeat(n - 1))}).to_string();
    assert_eq!(api.call("POST", &tokens, Some(KEY), Some(&token_name(64))).await.0, 201);
    err(api.call("POST", &tokens, Some(KEY), Some(&token_name(65))).await, 400, "bad_request");
}

#[tokio::test]
async fn an_invitation_shows_the_room_to_whoever_holds_one_of_its_tokens() {
    let api = Api::new(true).await;
    let starts = now_unix() + 3600;
    let created = api.create(json!({"name": "Standup", "startsAt": tessera::time::format_unix(starts), "lobby": true})).await;
    let id = created["room"]["id"].as_str().expect("id").to_owned();
    let (_, t) = api.call("POST", &format!("/api/v1/rooms/{id}/tokens"), Some(KEY), Some(r#"{"name":"Ada","role":"viewer"}"#)).await;
    let token = t["token"].as_str().expect("token");
    let path = format!("/api/v1/rooms/{id}/invitation");
    let (st, v) = api.call("GET", &path, Some(token), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["name"].as_str(), v["state"].as_str(), v["lobby"].as_bool(), v["locked"].as_bool()),
        (Some("Standup"), Some("scheduled"), Some(true), Some(false)),
        "{v}"
    );
    assert_eq!(v["startsAt"], tessera::time::format_unix(starts));
    // The default early-join window is 10 minutes.
    assert_eq!(v["opensAt"], tessera::time::format_unix(starts - 600));
    assert!(v["now"].is_string());
    let other = api.create(json!({})).await;
    err(api.call("GET", &path, other["hostToken"].as_str(), None).await, 403, "wrong_room");
    err(api.call("GET", &path, None, None).await, 401, "unauthorized");
    err(api.call("GET", "/api/v1/rooms/nosuchroom/invitation", Some(KEY), None).await, 404, "room_not_found");
}

#[tokio::test]
async fn a_browser_lost_on_an_unknown_address_gets_a_page_home_and_an_api_caller_json() {
    let api = Api::new(false).await;
    let r = api.raw("GET", "/no/such/page", &[("accept", b"text/html,application/xhtml+xml")], None).await;
    assert_eq!(r.status(), 404);
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{ct}");
    let body = String::from_utf8_lossy(r.body());
    assert!(body.contains(r#"<a href="/">"#), "{body}");
    let r = api.raw("GET", "/no/such/page", &[("accept", b"application/json")], None).await;
    assert_eq!((r.status().as_u16(), json_of(&r)["code"].clone()), (404, json!("not_found")));
    let r = api.raw("GET", "/api/v1/nope", &[("accept", b"text/html")], None).await;
    assert_eq!((r.status().as_u16(), json_of(&r)["code"].clone()), (404, json!("not_found")), "the API answers JSON");
}
