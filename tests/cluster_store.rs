//! The Redis store (`src/store/redis.rs`) against a real Redis (Debian's `redis-server`, started
//! here on loopback with no persistence): the SQLite store's unit tests ported, plus what only a
//! shared store has (racing nodes, per-node indexes of active recordings).

mod common;

use common::redis::Redis;
use tessera::cluster;
use tessera::records::recording::{Part, RecordingRecord, RecordingState};
use tessera::records::room::{EndReason, RoomSpec, RoomState};
use tessera::records::settings::RoomSettings;
use tessera::store::{RecordingFilter, RedisStore, RoomFilter};

/// A store for `node` on its own connection to `redis`.
fn store(redis: &Redis, node: &str) -> RedisStore {
    RedisStore::new(cluster::connect(&redis.url()).expect("client"), node)
}

fn room(id: &str, created: i64, starts: Option<i64>) -> RoomSpec {
    RoomSpec {
        id: id.into(),
        created_at: created,
        settings: RoomSettings {
            name: format!("room {id}"),
            starts_at: starts,
            metadata: Some(serde_json::json!({"crm": 42})),
            auto_record: true,
            layout: "speaker".into(),
            hide_audio_only: true,
            chat_enabled: false,
            ..RoomSettings::default()
        },
        ended_at: None,
        end_reason: None,
    }
}

async fn room_ids(s: &RedisStore, f: RoomFilter, now: i64) -> (Vec<String>, u64) {
    let (rooms, total) = s.list_rooms(&f, now).await.expect("list rooms");
    (rooms.into_iter().map(|r| r.id).collect(), total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_round_trip_and_filter_page_and_order_like_sqlite() {
    let redis = Redis::start();
    redis.ready().await;
    let s = store(&redis, "a");

    // The SQLite unit test, as is.
    s.insert_room(&room("a", 1, None)).await.expect("insert a");
    s.insert_room(&room("b", 2, Some(1000))).await.expect("insert b");
    let mut c = room("c", 3, Some(50));
    s.insert_room(&c).await.expect("insert c");
    c.ended_at = Some(60);
    c.end_reason = Some(EndReason::Deleted);
    s.update_room(&c).await.expect("update c");
    assert_eq!(s.get_room("c").await.expect("get").expect("c exists"), c);
    assert_eq!(s.get_room("zz").await.expect("get"), None);
    let all = |state: Option<RoomState>| RoomFilter { state, limit: 10, ..Default::default() };
    assert_eq!(room_ids(&s, all(None), 100).await.0, ["a", "b", "c"]);
    assert_eq!(room_ids(&s, all(Some(RoomState::Open)), 100).await.0, ["a"]);
    assert_eq!(room_ids(&s, all(Some(RoomState::Scheduled)), 100).await.0, ["b"]);
    assert_eq!(room_ids(&s, all(Some(RoomState::Ended)), 100).await.0, ["c"]);
    let window = RoomFilter { starts_from: Some(900), starts_before: Some(1001), limit: 10, ..Default::default() };
    assert_eq!(room_ids(&s, window, 100).await.0, ["b"]);
    let (page, total) = room_ids(&s, RoomFilter { limit: 2, offset: 2, ..Default::default() }, 100).await;
    assert_eq!((page.len(), total), (1, 3));
    assert_eq!(s.unfinished_rooms().await.expect("unfinished").len(), 2);

    // A duplicate id fails and leaves the first room as it was.
    assert!(s.insert_room(&room("a", 9, None)).await.is_err(), "a second insert of one id fails");
    assert_eq!(s.get_room("a").await.expect("get").expect("a exists"), room("a", 1, None));
    // An update writes every field but id and created_at, and does nothing for an unknown id.
    let mut a = room("a", 77, Some(5));
    a.settings.name = "renamed".into();
    a.settings.metadata = None;
    s.update_room(&a).await.expect("update a");
    assert_eq!(s.get_room("a").await.expect("get").expect("a exists"), RoomSpec { created_at: 1, ..a.clone() });
    s.update_room(&room("ghost", 4, None)).await.expect("update of an unknown id");
    assert_eq!(s.get_room("ghost").await.expect("get"), None, "an update does not create");
    assert_eq!(room_ids(&s, all(None), 100).await, (vec!["a".into(), "b".into(), "c".into()], 3));

    // Equal creation times keep insertion order (not id order), in every listing.
    s.insert_room(&room("e", 2, None)).await.expect("insert e");
    s.insert_room(&room("d", 2, None)).await.expect("insert d");
    assert_eq!(room_ids(&s, all(None), 100).await.0, ["a", "b", "e", "d", "c"]);
    let unfinished: Vec<String> = s.unfinished_rooms().await.expect("unfinished").into_iter().map(|r| r.id).collect();
    assert_eq!(unfinished, ["a", "b", "e", "d"], "oldest first, the ended room left out");
    // Filters, then the page, then the total of the filtered rooms.
    let open_page = RoomFilter { state: Some(RoomState::Open), limit: 1, offset: 1, ..Default::default() };
    assert_eq!(room_ids(&s, open_page, 100).await, (vec!["e".into()], 3));
    // A room without startsAt matches no time bound (as NULL in SQL).
    let from_zero = RoomFilter { starts_from: Some(0), limit: 10, ..Default::default() };
    assert_eq!(room_ids(&s, from_zero, 100).await.0, ["a", "b", "c"]);
    let before = RoomFilter { starts_before: Some(50), limit: 10, ..Default::default() };
    assert_eq!(room_ids(&s, before, 100).await.0, ["a"]);
    // Unfiltered pages come straight from the index.
    assert_eq!(room_ids(&s, RoomFilter { limit: 2, offset: 1, ..Default::default() }, 100).await, (vec!["b".into(), "e".into()], 5));
    assert_eq!(room_ids(&s, RoomFilter { limit: 0, ..Default::default() }, 100).await, (vec![], 5));
    assert_eq!(room_ids(&s, RoomFilter { limit: 5, offset: 9, ..Default::default() }, 100).await, (vec![], 5));

    // Ending and reopening a room moves it out of and back into the unfinished index.
    let mut e = room("e", 2, None);
    e.ended_at = Some(70);
    e.end_reason = Some(EndReason::EmptyTimeout);
    s.update_room(&e).await.expect("end e");
    let unfinished: Vec<String> = s.unfinished_rooms().await.expect("unfinished").into_iter().map(|r| r.id).collect();
    assert_eq!(unfinished, ["a", "b", "d"]);
    e.ended_at = None;
    e.end_reason = None;
    s.update_room(&e).await.expect("reopen e");
    let unfinished: Vec<String> = s.unfinished_rooms().await.expect("unfinished").into_iter().map(|r| r.id).collect();
    assert_eq!(unfinished, ["a", "b", "e", "d"], "back in its place");

    // Another node on another connection sees the same rooms.
    assert_eq!(store(&redis, "b").get_room("e").await.expect("get").expect("e exists"), e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_created_once_when_nodes_race() {
    let redis = Redis::start();
    redis.ready().await;
    let (a, b) = (store(&redis, "a"), store(&redis, "b"));
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.setting_or_insert("secret", move || format!("value {i}")).await.expect("setting") })
        })
        .collect();
    let mut values = Vec::new();
    for r in racers {
        values.push(r.await.expect("joins"));
    }
    assert!(values.iter().all(|v| *v == values[0]), "every racer got the same value: {values:?}");
    assert!(values[0].starts_with("value "), "{values:?}");
    // Later callers, and a node that starts afterwards, read it and never write again.
    assert_eq!(a.setting_or_insert("secret", || "late".into()).await.expect("setting"), values[0]);
    assert_eq!(store(&redis, "c").setting_or_insert("secret", || "later".into()).await.expect("setting"), values[0]);
    assert_eq!(b.setting_or_insert("other", || "two".into()).await.expect("setting"), "two", "keys are independent");
}

fn rec(id: &str, room: &str, started: i64, state: RecordingState) -> RecordingRecord {
    RecordingRecord {
        id: id.into(),
        room_id: room.into(),
        state,
        reason: None,
        started_at: started,
        ended_at: None,
        duration_ms: None,
        bytes: 0,
        parts: vec![Part { index: 1, file: "part-0001.mp4".into(), bytes: 10, duration_ms: 5 }],
        dir: "/tmp/x".into(),
    }
}

async fn rec_ids(s: &RedisStore, f: RecordingFilter) -> (Vec<String>, u64) {
    let (list, total) = s.list_recordings(&f).await.expect("list recordings");
    (list.into_iter().map(|r| r.id).collect(), total)
}

fn ids(list: Vec<RecordingRecord>) -> Vec<String> {
    list.into_iter().map(|r| r.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_round_trip_filter_page_and_index_active_ones_per_node() {
    let redis = Redis::start();
    redis.ready().await;
    let (a, b) = (store(&redis, "A"), store(&redis, "B"));

    // The SQLite unit test, as is (on node A).
    a.put_recording(&rec("a", "r1", 1, RecordingState::Complete)).await.expect("put a");
    a.put_recording(&rec("b", "r1", 2, RecordingState::Recording)).await.expect("put b");
    let mut c = rec("c", "r2", 3, RecordingState::Finalizing);
    a.put_recording(&c).await.expect("put c");
    assert_eq!(a.get_recording("a").await.expect("get").expect("a exists"), rec("a", "r1", 1, RecordingState::Complete));
    assert_eq!(a.get_recording("zz").await.expect("get"), None);
    c.state = RecordingState::Failed;
    c.reason = Some("disk full".into());
    a.put_recording(&c).await.expect("put c again");
    assert_eq!(a.get_recording("c").await.expect("get").expect("c exists"), c);
    let all = |f: RecordingFilter| RecordingFilter { limit: 10, ..f };
    assert_eq!(rec_ids(&a, all(RecordingFilter::default())).await.0, ["c", "b", "a"], "newest first");
    assert_eq!(rec_ids(&a, all(RecordingFilter { room_id: Some("r1".into()), ..Default::default() })).await.0, ["b", "a"]);
    assert_eq!(rec_ids(&a, all(RecordingFilter { state: Some(RecordingState::Failed), ..Default::default() })).await.0, ["c"]);
    let (page, total) = rec_ids(&a, RecordingFilter { limit: 1, offset: 1, ..Default::default() }).await;
    assert_eq!((page, total), (vec!["b".into()], 3));
    assert_eq!(ids(a.active_recordings().await.expect("active")), ["b"]);

    // Filters with a page: the total counts every match.
    a.put_recording(&rec("d", "r1", 4, RecordingState::Complete)).await.expect("put d");
    let r1_page = RecordingFilter { room_id: Some("r1".into()), limit: 1, offset: 1, ..Default::default() };
    assert_eq!(rec_ids(&a, r1_page).await, (vec!["b".into()], 3));
    let both = RecordingFilter { room_id: Some("r1".into()), state: Some(RecordingState::Complete), limit: 10, ..Default::default() };
    assert_eq!(rec_ids(&a, both).await, (vec!["d".into(), "a".into()], 2));
    assert_eq!(rec_ids(&a, RecordingFilter { room_id: Some("nope".into()), limit: 10, ..Default::default() }).await, (vec![], 0));
    assert_eq!(rec_ids(&a, RecordingFilter::default()).await, (vec![], 4), "limit 0: no rows, the total still counted");

    // Equal start times: the last written first, as INSERT OR REPLACE gives the row a new rowid.
    a.put_recording(&rec("x", "r3", 9, RecordingState::Complete)).await.expect("put x");
    a.put_recording(&rec("y", "r3", 9, RecordingState::Complete)).await.expect("put y");
    let r3 = || RecordingFilter { room_id: Some("r3".into()), limit: 10, ..Default::default() };
    assert_eq!(rec_ids(&a, r3()).await.0, ["y", "x"]);
    a.put_recording(&rec("x", "r3", 9, RecordingState::Failed)).await.expect("rewrite x");
    assert_eq!(rec_ids(&a, r3()).await.0, ["x", "y"]);

    // Active recordings are indexed under the node that writes them.
    b.put_recording(&rec("e", "r4", 5, RecordingState::Recording)).await.expect("put e on B");
    assert_eq!(ids(a.active_recordings().await.expect("active")), ["b"], "B's recording is not A's");
    assert_eq!(ids(b.active_recordings().await.expect("active")), ["e"]);
    assert_eq!(ids(b.active_recordings_on("A").await.expect("active on A")), ["b"], "B sees A's");
    assert_eq!(ids(b.active_recordings_on("nobody").await.expect("active")), Vec::<String>::new());
    a.put_recording(&rec("f", "r1", 6, RecordingState::Finalizing)).await.expect("put f");
    assert_eq!(ids(a.active_recordings().await.expect("active")), ["b", "f"], "finalizing counts, oldest first");

    // Leaving the active states takes it out of the index, whoever writes it: A completes f;
    // B takes over A's b (A died) and marks it interrupted.
    let mut f = rec("f", "r1", 6, RecordingState::Complete);
    f.ended_at = Some(7);
    f.duration_ms = Some(1);
    a.put_recording(&f).await.expect("complete f");
    assert_eq!(ids(a.active_recordings().await.expect("active")), ["b"]);
    let mut interrupted = rec("b", "r1", 2, RecordingState::Interrupted);
    interrupted.reason = Some("node A stopped".into());
    b.put_recording(&interrupted).await.expect("B marks b interrupted");
    assert_eq!(ids(b.active_recordings_on("A").await.expect("active on A")), Vec::<String>::new());
    assert_eq!(ids(b.active_recordings().await.expect("active")), ["e"]);
    assert_eq!(a.get_recording("b").await.expect("get").expect("b exists"), interrupted);

    // Deleting removes the record and every index entry.
    assert!(b.delete_recording("e").await.expect("delete"), "it existed");
    assert!(!b.delete_recording("e").await.expect("delete again"), "it is gone");
    assert_eq!(b.get_recording("e").await.expect("get"), None);
    assert_eq!(ids(b.active_recordings().await.expect("active")), Vec::<String>::new());
    assert!(!rec_ids(&a, all(RecordingFilter::default())).await.0.contains(&"e".to_owned()));
    let mut raw = cluster::connect(&redis.url()).expect("client");
    let members: Vec<String> = redis::cmd("ZRANGE").arg("tessera:recordings").arg(0).arg(-1).query_async(&mut raw).await.expect("zrange");
    assert_eq!(members.len(), 7, "one index entry per recording, none for the deleted one: {members:?}");
    let active_b: Vec<String> = redis::cmd("SMEMBERS").arg("tessera:recordings:active:B").query_async(&mut raw).await.expect("smembers");
    assert!(active_b.is_empty(), "{active_b:?}");
}

/// A small deterministic generator (reproducible failures; no seed to log).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_as_the_sqlite_store_does() {
    let redis = Redis::start();
    redis.ready().await;
    let r = store(&redis, "A");
    let s = tessera::store::SqliteStore::open(std::path::Path::new(":memory:")).expect("sqlite");
    let mut rng = Lcg(7);

    // Rooms: few distinct creation times (many ties), inserted out of order, some updated
    // (ended, reopened, rescheduled).
    let mut rooms = Vec::new();
    for i in 0..60 {
        let mut spec = room(&format!("room{i}"), rng.below(8) as i64, [None, Some(rng.below(200) as i64)][rng.below(2) as usize]);
        if rng.below(4) == 0 {
            spec.ended_at = Some(90);
            spec.end_reason = Some(EndReason::TimeLimit);
        }
        s.insert_room(&spec).expect("sqlite insert");
        r.insert_room(&spec).await.expect("redis insert");
        rooms.push(spec);
    }
    for _ in 0..40 {
        let mut spec = rooms[rng.below(60) as usize].clone();
        match rng.below(3) {
            0 => (spec.ended_at, spec.end_reason) = (Some(95), Some(EndReason::Deleted)),
            1 => (spec.ended_at, spec.end_reason) = (None, None),
            _ => spec.settings.starts_at = [None, Some(rng.below(200) as i64)][rng.below(2) as usize],
        }
        s.update_room(&spec).expect("sqlite update");
        r.update_room(&spec).await.expect("redis update");
    }
    assert_eq!(r.unfinished_rooms().await.expect("redis"), s.unfinished_rooms().expect("sqlite"));
    let states = [None, Some(RoomState::Scheduled), Some(RoomState::Open), Some(RoomState::Ended)];
    let pages = [(0, 0), (5, 0), (5, 7), (100, 0), (3, 58), (10, 200)];
    let mut compared = 0;
    for state in states {
        for starts_from in [None, Some(50), Some(150)] {
            for starts_before in [None, Some(100), Some(180)] {
                for (limit, offset) in pages {
                    let f = RoomFilter { state, starts_from, starts_before, limit, offset };
                    let want = s.list_rooms(&f, 100).expect("sqlite list");
                    assert_eq!(r.list_rooms(&f, 100).await.expect("redis list"), want, "{f:?}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 4 * 3 * 3 * pages.len());

    // Recordings: 15 ids written 50 times (new states, equal start times), some deleted.
    let all_states = RecordingState::ALL;
    for _ in 0..50 {
        let id = format!("rec{}", rng.below(15));
        let mut rec = rec(&id, &format!("r{}", rng.below(4)), rng.below(5) as i64, all_states[rng.below(5) as usize]);
        rec.bytes = rng.below(1 << 40);
        s.put_recording(&rec).expect("sqlite put");
        r.put_recording(&rec).await.expect("redis put");
        if rng.below(6) == 0 {
            let gone = format!("rec{}", rng.below(15));
            assert_eq!(r.delete_recording(&gone).await.expect("redis delete"), s.delete_recording(&gone).expect("sqlite delete"), "{gone}");
        }
    }
    for i in 0..15 {
        let id = format!("rec{i}");
        assert_eq!(r.get_recording(&id).await.expect("redis get"), s.get_recording(&id).expect("sqlite get"), "{id}");
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(ids(r.active_recordings().await.expect("redis active"))),
        sorted(ids(s.active_recordings().expect("sqlite active"))),
        "one node: its active recordings are all the active ones"
    );
    let rooms = [None, Some("r0"), Some("r1"), Some("r3"), Some("nope")];
    let states = [None, Some(RecordingState::Recording), Some(RecordingState::Complete), Some(RecordingState::Failed)];
    for room_id in rooms {
        for state in states {
            for (limit, offset) in pages {
                let f = RecordingFilter { room_id: room_id.map(str::to_owned), state, limit, offset };
                let want = s.list_recordings(&f).expect("sqlite list");
                assert_eq!(r.list_recordings(&f).await.expect("redis list"), want, "{f:?}");
            }
        }
    }
}
