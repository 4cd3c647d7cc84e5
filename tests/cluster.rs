//! Cluster building blocks against a real Redis (Debian's `redis-server`, started here on
//! loopback with no persistence): the node registry and room leases (`src/cluster/`).

mod common;

use common::eventually;
use common::redis::Redis;
use std::time::Duration;
use tessera::cluster::{self, lease, registry};
use tokio_util::sync::CancellationToken;

fn node(id: &str, rooms: u32, cpu: f64) -> registry::NodeInfo {
    registry::NodeInfo {
        id: id.into(),
        url: format!("http://{id}.test"),
        rooms,
        participants: rooms * 4,
        cpu,
        capacity: 9,
        draining: false,
    }
}

/// `info` announced until `cancel`, as a node's announcer does.
async fn announcer(conn: redis::aio::ConnectionManager, info: registry::NodeInfo, cancel: CancellationToken) {
    let wake = tokio::sync::Notify::new();
    registry::run_announcer(conn, || info.clone(), &wake, &|_| {}, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_announce_expire_and_the_least_loaded_is_chosen() {
    let redis = Redis::start();
    redis.ready().await;
    let url = redis.url();
    let conn = || cluster::connect(&url).expect("client");
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    tokio::spawn(announcer(conn(), node("a", 6, 0.3), stop_a.clone()));
    tokio::spawn(announcer(conn(), node("b", 2, 0.8), stop_b.clone()));
    let killed = tokio::spawn(announcer(conn(), node("c", 3, 0.1), CancellationToken::new()));
    let mut reader = conn();
    let live = eventually(Duration::from_secs(5), "three nodes announced", || async {
        let live = registry::live_nodes(&mut reader.clone()).await.map_err(|e| e.to_string())?;
        if live.len() == 3 { Ok(live) } else { Err(format!("{live:?}")) }
    })
    .await;
    assert_eq!(live[0], node("a", 6, 0.3), "records come back as announced");
    assert_eq!(registry::least_loaded(&live).map(|n| n.id.as_str()), Some("b"), "the most free rooms wins");

    // A node that stops cleanly is gone at once; one that dies (no withdraw) within the TTL.
    stop_b.cancel();
    eventually(Duration::from_secs(2), "b withdrew", || async {
        let ids: Vec<String> =
            registry::live_nodes(&mut reader.clone()).await.map_err(|e| e.to_string())?.into_iter().map(|n| n.id).collect();
        if !ids.contains(&"b".to_owned()) { Ok(()) } else { Err(format!("{ids:?}")) }
    })
    .await;
    killed.abort();
    let died = std::time::Instant::now();
    eventually(registry::NODE_TTL + Duration::from_secs(3), "c expired", || async {
        let ids: Vec<String> =
            registry::live_nodes(&mut reader.clone()).await.map_err(|e| e.to_string())?.into_iter().map(|n| n.id).collect();
        if ids == ["a"] { Ok(()) } else { Err(format!("{ids:?}")) }
    })
    .await;
    // Expiry is Redis's own clock: the TTL plus polling and a busy machine's scheduling.
    assert!(died.elapsed() <= registry::NODE_TTL + Duration::from_secs(2), "dead within the TTL + 2 s: {:?}", died.elapsed());
    let members: Vec<String> = redis::cmd("SMEMBERS").arg("tessera:nodes").query_async(&mut reader).await.expect("smembers");
    assert_eq!(members, ["a"], "expired ids are pruned from the set");
    stop_a.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_has_one_owner_under_a_race_and_leases_fence_takeovers() {
    let redis = Redis::start();
    redis.ready().await;
    let url = redis.url();
    let ttl = Duration::from_millis(800);
    // 20 nodes race for one new room, each on its own connection.
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let mut c = cluster::connect(&url).expect("client");
            tokio::spawn(async move { lease::acquire(&mut c, "room1", &format!("n{i}"), ttl).await.expect("acquire") })
        })
        .collect();
    let mut owners = Vec::new();
    for r in racers {
        owners.push(r.await.expect("joins"));
    }
    let first = owners[0].clone();
    assert!(owners.iter().all(|o| *o == first), "everyone sees the same owner: {owners:?}");

    let mut c = cluster::connect(&url).expect("client");
    assert!(lease::renew(&mut c, &first, ttl).await.expect("renew"), "the owner renews");
    let impostor = lease::Lease { node: "other".into(), ..first.clone() };
    assert!(!lease::renew(&mut c, &impostor, ttl).await.expect("renew"), "another node cannot");
    assert_eq!(lease::acquire(&mut c, "room1", &first.node, ttl).await.expect("re-take"), first, "re-taking keeps the fence");

    // The owner dies (stops renewing): the lease expires and the next taker gets a larger fence;
    // the old owner can neither renew nor release the new one.
    let taken = eventually(Duration::from_secs(5), "the lease expires and is taken over", || async {
        let l = lease::acquire(&mut c.clone(), "room1", "successor", ttl).await.map_err(|e| e.to_string())?;
        if l.node == "successor" { Ok(l) } else { Err(format!("{l:?}")) }
    })
    .await;
    assert!(taken.fence > first.fence, "{taken:?} after {first:?}");
    assert!(!lease::renew(&mut c, &first, ttl).await.expect("renew"));
    assert!(!lease::release(&mut c, &first).await.expect("release"));
    assert_eq!(lease::owner(&mut c, "room1").await.expect("owner"), Some(taken.clone()));
    assert!(lease::release(&mut c, &taken).await.expect("release"));
    assert_eq!(lease::owner(&mut c, "room1").await.expect("owner"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_comes_back_by_itself_after_redis_restarts() {
    let redis = Redis::start();
    redis.ready().await;
    let mut c = cluster::connect(&redis.url()).expect("client");
    registry::announce(&mut c, &node("a", 1, 0.1)).await.expect("announce");
    let (port, dir, persistent) = redis.stop();
    assert!(registry::announce(&mut c, &node("a", 1, 0.1)).await.is_err(), "Redis down: a clear error, quickly");
    let redis = Redis::start_on(port, dir, persistent);
    redis.ready().await;
    // The same connection manager, no new client: it reconnects on its own.
    eventually(Duration::from_secs(5), "announcing works again", || async {
        registry::announce(&mut c.clone(), &node("a", 1, 0.1)).await.map_err(|e| e.to_string())
    })
    .await;
    let live = registry::live_nodes(&mut c).await.expect("live");
    assert_eq!(live.len(), 1);
}
