//! Configuration parsing and validation.

use super::*;

#[test]
fn node_id_and_log_format() {
    let c = Config::from_toml("node_id = \"node-1.eu\"\nlog_format = \"json\"").unwrap();
    assert_eq!((c.node_name(), c.log_format), ("node-1.eu".to_owned(), LogFormat::Json));
    c.validate().unwrap();
    let bad = Config { node_id: Some("a b".into()), ..Config::default() };
    assert!(bad.validate().unwrap_err().to_string().contains("node_id"));
    assert!(Config::from_toml("log_format = \"xml\"").is_err());
    assert!(!Config::default().node_name().is_empty(), "the host name by default");
}

#[test]
fn defaults_are_valid_and_loopback_media() {
    let c = Config::default();
    c.validate().unwrap();
    assert!(c.media_bind_ip().is_loopback());
}

#[test]
fn non_loopback_listen_binds_all_interfaces_unless_overridden() {
    let mut c = Config { listen: "0.0.0.0:8080".parse().unwrap(), ..Config::default() };
    let refused = c.validate().unwrap_err().to_string();
    assert!(refused.contains("without API keys"), "{refused}");
    c.api_keys = parse_api_keys("ops:0123456789abcdef").unwrap();
    c.validate().unwrap();
    assert_eq!(c.media_bind_ip(), IpAddr::from([0, 0, 0, 0]));
    c.rtc_ip = Some("10.1.2.3".parse().unwrap());
    assert_eq!(c.media_bind_ip(), "10.1.2.3".parse::<IpAddr>().unwrap());
}

#[test]
fn toml_overrides_and_rejects_unknown_keys() {
    let c = Config::from_toml("[composite]\nwidth = 640\nheight = 360\n").unwrap();
    assert_eq!(c.composite.width, 640);
    assert_eq!(c.composite.fps, 30);
    assert_eq!((c.composite.l1().width, c.composite.l2().bitrate_kbps), (320, 120), "rungs not set follow the composite");
    let c = Config::from_toml("[composite.ladder.l2]\nwidth = 256\nheight = 144\nfps = 10\nbitrate_kbps = 90\n").unwrap();
    assert_eq!((c.composite.l2().width, c.composite.l2().fps, c.composite.l1().width), (256, 10, 640));
    assert!(Config::from_toml("bogus = 1").is_err());
}

#[test]
fn validation_names_the_bad_key() {
    let mut c = Config::default();
    c.composite.width = 641;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("composite.width"), "{e}");
    let mut c = Config::default();
    c.composite.ladder.l1 = Some(crate::records::RungConfig { bitrate_kbps: 2000, ..c.composite.l1() });
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("composite.ladder.l1.bitrate_kbps must be within 30..=1500"), "{e}");
    let mut c = Config::default();
    c.ice_servers[0].urls = vec!["http://x".into()];
    assert!(c.validate().is_err());
}

#[test]
fn turn_servers_need_turn_urls_a_long_secret_and_a_sane_lifetime() {
    let ok = TurnConfig { urls: vec!["turn:turn.example.com:3478".into()], secret: "sixteen-chars-ok".into(), ttl_seconds: 86_400 };
    let with = |t: TurnConfig| Config { turn: vec![t], ..Config::default() }.validate();
    with(ok.clone()).unwrap();
    for (bad, why) in [
        (TurnConfig { urls: vec![], ..ok.clone() }, "urls"),
        (TurnConfig { urls: vec!["stun:x".into()], ..ok.clone() }, "turn:"),
        (TurnConfig { secret: "short".into(), ..ok.clone() }, "16"),
        (TurnConfig { ttl_seconds: 10, ..ok.clone() }, "ttl_seconds"),
    ] {
        let e = with(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
    let parsed = Config::from_toml("[[turn]]\nurls = [\"turns:t.example:5349\"]\nsecret = \"0123456789abcdef\"\n").unwrap();
    assert_eq!(parsed.turn[0].ttl_seconds, 86_400, "a day by default");
    assert!(Config::from_toml("[[turn]]\nurls = []\nsecret = \"x\"\npassword = \"y\"\n").is_err(), "unknown keys are refused");
}

#[test]
fn sample_file_parses() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tessera.sample.toml")).unwrap();
    let c = Config::from_toml(&text).unwrap();
    c.validate().unwrap();
}

#[test]
fn the_hls_folder_must_be_its_own() {
    let mut c = Config::default();
    c.validate().unwrap();
    for (hls, rec) in [("data", "data/recordings"), ("data/recordings", "data/recordings"), ("data/recordings/live", "data/recordings")] {
        c.hls_dir = hls.into();
        c.recordings_dir = rec.into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("hls_dir"), "{hls} vs {rec}: {e}");
    }
    c.hls_dir = "data".into();
    c.recordings_dir = "recordings".into();
    assert!(c.validate().is_err(), "the database data/tessera.db is inside it");
}
