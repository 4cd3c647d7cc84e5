//! The host's moderation over signaling and REST (no media): the lock, removals that hold,
//! co-hosts and their limits, and the lobby.

mod common;

use common::TestServer;
use common::sock::{call, create, first_and_close, first_message, keyed_config, next_of, token, ws};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_room_keeps_newcomers_out_and_a_removed_person_cannot_rejoin() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let (room, host) = create(addr, json!({})).await;
    let refused = |(msg, close): (Value, Option<u16>), code: &str| {
        assert_eq!((msg["type"].as_str(), msg["code"].as_str(), close), (Some("error"), Some(code), Some(4403)), "{msg}");
    };
    let ta = token(addr, &room, "A", Some("alice")).await;
    let mut a = ws(addr, &room, &format!("token={ta}&device=dev-a")).await;
    let welcome = first_message(&mut a).await;
    assert_eq!((welcome["type"].as_str(), welcome["locked"].as_bool()), (Some("welcome"), Some(false)), "{welcome}");

    // The host locks the room: everyone is told, the room view says so.
    let (st, v) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &host, Some(json!({"locked": true}))).await;
    assert_eq!((st, v["locked"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(next_of(&mut a, "roomLocked").await["locked"], true);
    // A participant cannot lock or unlock.
    let (st, v) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &ta, Some(json!({"locked": false}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");

    // Nobody new comes in; someone already in does (a reload: the same identity, or another
    // identity from the same device), and so does a host.
    let tb = token(addr, &room, "B", Some("bob")).await;
    refused(first_and_close(ws(addr, &room, &format!("token={tb}&device=dev-b")).await).await, "room_locked");
    let mut a2 = ws(addr, &room, &format!("token={ta}&device=dev-a")).await;
    assert_eq!(first_message(&mut a2).await["type"], "welcome", "A's reload is let in");
    let ta3 = token(addr, &room, "A (tab)", None).await;
    let mut a3 = ws(addr, &room, &format!("token={ta3}&device=dev-a")).await;
    assert_eq!(first_message(&mut a3).await["type"], "welcome", "a new tab of A's browser is let in");
    let mut h = ws(addr, &room, &format!("token={host}")).await;
    let hw = first_message(&mut h).await;
    assert_eq!((hw["type"].as_str(), hw["locked"].as_bool()), (Some("welcome"), Some(true)), "{hw}");

    // Unlocked, B joins; removed by the host, B cannot come back: not with the same identity,
    // not with a new one from the same device.
    let (st, _) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &host, Some(json!({"locked": false}))).await;
    assert_eq!(st, 200);
    let mut b = ws(addr, &room, &format!("token={tb}&device=dev-b")).await;
    let bw = first_message(&mut b).await;
    assert_eq!(bw["type"], "welcome", "{bw}");
    let b_id = bw["participantId"].as_str().expect("id").to_owned();
    let (st, _) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}/participants/{b_id}"), &host, None).await;
    assert_eq!(st, 204);
    assert_eq!(next_of(&mut b, "removed").await["reason"], "kicked");
    refused(first_and_close(ws(addr, &room, &format!("token={tb}")).await).await, "removed_from_room");
    let tb2 = token(addr, &room, "B again", None).await;
    refused(first_and_close(ws(addr, &room, &format!("token={tb2}&device=dev-b")).await).await, "removed_from_room");
    // Someone else still joins; a device id that is not a plain word is ignored, not refused.
    let tc = token(addr, &room, "C", None).await;
    let mut c = ws(addr, &room, &format!("token={tc}&device=not%20a%20word")).await;
    assert_eq!(first_message(&mut c).await["type"], "welcome");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_makes_a_co_host_who_keeps_host_powers_until_a_host_takes_them_away() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let (room, host) = create(addr, json!({})).await;
    let mut h = ws(addr, &room, &format!("token={host}&name=Ada")).await;
    let hw = first_message(&mut h).await;
    assert_eq!((hw["you"]["role"].as_str(), hw["you"]["coHost"].as_bool()), (Some("host"), Some(false)), "{hw}");
    let hw_id = hw["participantId"].as_str().expect("id").to_owned();
    let tb = token(addr, &room, "Bo", Some("bo")).await;
    let mut b = ws(addr, &room, &format!("token={tb}")).await;
    let bw = first_message(&mut b).await;
    let b_id = bw["participantId"].as_str().expect("id").to_owned();
    let role = format!("/api/v1/rooms/{room}/participants/{b_id}/role");

    // Bad input first: a participant cannot promote, nor can anyone make a viewer or a stranger.
    let (st, v) = call(addr, "POST", &role, &tb, Some(json!({"role": "host"}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    for bad in [json!({"role": "viewer"}), json!({"role": "host", "x": 1}), json!([true]), json!({})] {
        let (st, v) = call(addr, "POST", &role, &host, Some(bad.clone())).await;
        assert_eq!((st, v["code"].as_str()), (400, Some("bad_request")), "{bad}: {v}");
    }
    let (st, v) = call(addr, "POST", &format!("/api/v1/rooms/{room}/participants/nobody/role"), &host, Some(json!({"role": "host"}))).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("participant_not_found")), "{v}");

    // Promoted: everyone sees the role, Bo gets a host token of his own that has host powers,
    // and joins as a host with it from another device.
    let (st, v) = call(addr, "POST", &role, &host, Some(json!({"role": "host"}))).await;
    assert_eq!((st, v["role"].as_str()), (200, Some("host")), "{v}");
    let changed = next_of(&mut b, "roleChanged").await;
    assert_eq!(changed["role"], "host", "{changed}");
    let b_host = changed["hostToken"].as_str().expect("a host token").to_owned();
    assert!(changed["hostTokenExpiresAt"].is_string(), "{changed}");
    let up = next_of(&mut h, "participantUpdated").await;
    assert_eq!((up["participant"]["id"].as_str(), up["participant"]["role"].as_str()), (Some(b_id.as_str()), Some("host")), "{up}");
    assert_eq!(up["participant"]["coHost"], true, "{up}");
    let (st, _) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &b_host, Some(json!({"locked": true}))).await;
    assert_eq!(st, 200, "a co-host may lock the call");
    // A co-host cannot take host powers from the host who joined as one (nothing is revoked).
    let (st, v) =
        call(addr, "POST", &format!("/api/v1/rooms/{room}/participants/{hw_id}/role"), &b_host, Some(json!({"role": "participant"}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (st, _) = call(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), &host, None).await;
    assert_eq!(st, 200, "the host's token still has host powers");
    let mut b2 = ws(addr, &room, &format!("token={b_host}&name=Bo")).await;
    let b2w = first_message(&mut b2).await;
    assert_eq!(b2w["you"]["role"], "host", "the host token opens host powers on another device: {b2w}");
    assert_eq!(b2w["you"]["coHost"], true, "still a co-host there: {b2w}");
    let b2_id = b2w["participantId"].as_str().expect("id").to_owned();

    // Taken away: the token gives no host powers any more and joins as a participant.
    let (st, v) =
        call(addr, "POST", &format!("/api/v1/rooms/{room}/participants/{b2_id}/role"), &host, Some(json!({"role": "participant"}))).await;
    assert_eq!((st, v["role"].as_str()), (200, Some("participant")), "{v}");
    assert_eq!(next_of(&mut b2, "roleChanged").await["role"], "participant");
    let (st, v) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &b_host, Some(json!({"locked": false}))).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "a demoted co-host's token: {v}");
    let mut b3 = ws(addr, &room, &format!("token={b_host}&name=Bo")).await;
    assert_eq!(first_message(&mut b3).await["you"]["role"], "participant", "a demoted token joins as a participant");
    // The room's own host keeps its powers throughout.
    let (st, _) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &host, Some(json!({"locked": false}))).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_co_host_loses_its_powers_and_stays_out_and_nobody_but_the_api_removes_the_host() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let (room, host) = create(addr, json!({})).await;
    let mut h = ws(addr, &room, &format!("token={host}&name=Ada")).await;
    let h_id = first_message(&mut h).await["participantId"].as_str().expect("id").to_owned();
    let tb = token(addr, &room, "Bo", Some("bo")).await;
    let mut b = ws(addr, &room, &format!("token={tb}")).await;
    let b_id = first_message(&mut b).await["participantId"].as_str().expect("id").to_owned();
    let (st, _) = call(addr, "POST", &format!("/api/v1/rooms/{room}/participants/{b_id}/role"), &host, Some(json!({"role": "host"}))).await;
    assert_eq!(st, 200);
    let b_host = next_of(&mut b, "roleChanged").await["hostToken"].as_str().expect("token").to_owned();

    // The co-host cannot remove the host who joined as one.
    let (st, v) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}/participants/{h_id}"), &b_host, None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    // The host removes the co-host: its host token gives no powers and does not bring it back.
    let (st, _) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}/participants/{b_id}"), &host, None).await;
    assert_eq!(st, 204);
    assert_eq!(next_of(&mut b, "removed").await["reason"], "kicked");
    let (st, v) = call(addr, "GET", &format!("/api/v1/rooms/{room}/participants"), &b_host, None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    let (msg, close) = first_and_close(ws(addr, &room, &format!("token={b_host}")).await).await;
    assert_eq!((msg["code"].as_str(), close), (Some("removed_from_room"), Some(4403)), "{msg}");
    // The API key may remove the host.
    let (st, _) = call(addr, "DELETE", &format!("/api/v1/rooms/{room}/participants/{h_id}"), common::sock::KEY, None).await;
    assert_eq!(st, 204);
    assert_eq!(next_of(&mut h, "removed").await["reason"], "kicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_lobby_on_newcomers_wait_until_a_host_lets_them_in() {
    let _turn = common::one_call_at_a_time().await;
    let server = TestServer::start_with(keyed_config()).await;
    let addr = server.addr();
    let (room, host) = create(addr, json!({"lobby": true})).await;
    let mut h = ws(addr, &room, &format!("token={host}&name=Ada")).await;
    let hw = first_message(&mut h).await;
    assert_eq!((hw["you"]["role"].as_str(), hw["lobby"].as_bool()), (Some("host"), Some(true)), "a host comes straight in: {hw}");
    let lobby = format!("/api/v1/rooms/{room}/lobby");

    // Bo knocks: he is told to wait, the host is asked, the list shows him.
    let tb = token(addr, &room, "Bo", None).await;
    let mut b = ws(addr, &room, &format!("token={tb}")).await;
    assert_eq!(first_message(&mut b).await["type"], "lobbyWaiting");
    let asked = next_of(&mut h, "lobbyRequest").await;
    assert_eq!(asked["knock"]["name"], "Bo", "{asked}");
    let kid = asked["knock"]["id"].as_str().expect("knock id").to_owned();
    let (st, list) = call(addr, "GET", &lobby, &host, None).await;
    assert_eq!((st, list["waiting"][0]["id"].as_str()), (200, Some(kid.as_str())), "{list}");
    let (st, v) = call(addr, "GET", &lobby, &tb, None).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("forbidden")), "only hosts see the lobby: {v}");
    for bad in [json!({"admit": "yes"}), json!({}), json!({"admit": true, "x": 1})] {
        let (st, v) = call(addr, "POST", &format!("{lobby}/{kid}"), &host, Some(bad.clone())).await;
        assert_eq!((st, v["code"].as_str()), (400, Some("bad_request")), "{bad}: {v}");
    }
    // Let in: his socket gets `welcome`, hosts are told.
    let (st, _) = call(addr, "POST", &format!("{lobby}/{kid}"), &host, Some(json!({"admit": true}))).await;
    assert_eq!(st, 204);
    assert_eq!(next_of(&mut b, "welcome").await["you"]["name"], "Bo");
    let done = next_of(&mut h, "lobbyResolved").await;
    assert_eq!((done["knockId"].as_str(), done["outcome"].as_str()), (Some(kid.as_str()), Some("admitted")), "{done}");

    // Cy is refused; Di gives up (closes the page): hosts see her leave, her knock is gone.
    let tc = token(addr, &room, "Cy", None).await;
    let mut c = ws(addr, &room, &format!("token={tc}")).await;
    assert_eq!(first_message(&mut c).await["type"], "lobbyWaiting");
    let cy = next_of(&mut h, "lobbyRequest").await["knock"]["id"].as_str().expect("id").to_owned();
    assert_eq!(call(addr, "POST", &format!("{lobby}/{cy}"), &host, Some(json!({"admit": false}))).await.0, 204);
    let (msg, close) = first_and_close(c).await;
    assert_eq!((msg["code"].as_str(), close), (Some("lobby_denied"), Some(4403)), "{msg}");
    let td = token(addr, &room, "Di", None).await;
    let mut d = ws(addr, &room, &format!("token={td}")).await;
    assert_eq!(first_message(&mut d).await["type"], "lobbyWaiting");
    let di = loop {
        let m = next_of(&mut h, "lobbyRequest").await;
        if m["knock"]["name"] == "Di" {
            break m["knock"]["id"].as_str().expect("id").to_owned();
        }
    };
    drop(d);
    let left = loop {
        let m = next_of(&mut h, "lobbyResolved").await;
        if m["knockId"] == di.as_str() {
            break m;
        }
    };
    assert_eq!(left["outcome"], "left", "{left}");
    let (st, v) = call(addr, "POST", &format!("{lobby}/{di}"), &host, Some(json!({"admit": true}))).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("knock_not_found")), "{v}");

    // Knocking again (another tab of the same identity) withdraws the older knock.
    let tf = token(addr, &room, "Fi", Some("fi")).await;
    let mut f1 = ws(addr, &room, &format!("token={tf}")).await;
    assert_eq!(first_message(&mut f1).await["type"], "lobbyWaiting");
    let mut f2 = ws(addr, &room, &format!("token={tf}")).await;
    assert_eq!(first_message(&mut f2).await["type"], "lobbyWaiting");
    let (msg, close) = first_and_close(f1).await;
    assert_eq!((msg["code"].as_str(), close), (Some("lobby_replaced"), Some(4001)), "{msg}");
    let (_, list) = call(addr, "GET", &lobby, &host, None).await;
    assert_eq!(list["waiting"].as_array().map(Vec::len), Some(1), "one knock per identity: {list}");
    // Locking the room refuses everyone waiting.
    let (st, _) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &host, Some(json!({"locked": true}))).await;
    assert_eq!(st, 200);
    let (msg, close) = first_and_close(f2).await;
    assert_eq!((msg["code"].as_str(), close), (Some("room_locked"), Some(4403)), "a lock wins over the lobby: {msg}");
    let (st, _) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &host, Some(json!({"locked": false}))).await;
    assert_eq!(st, 200);

    // Turning the lobby off lets everyone waiting in.
    let te = token(addr, &room, "Ed", None).await;
    let mut e = ws(addr, &room, &format!("token={te}")).await;
    assert_eq!(first_message(&mut e).await["type"], "lobbyWaiting");
    let (st, v) = call(addr, "PATCH", &format!("/api/v1/rooms/{room}"), &host, Some(json!({"lobby": false}))).await;
    assert_eq!((st, v["lobby"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(next_of(&mut e, "welcome").await["you"]["name"], "Ed");
    assert_eq!(next_of(&mut h, "lobbyChanged").await["lobby"], false);
}
