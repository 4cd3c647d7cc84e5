//! The load generator (`tessera loadgen`) and the client it is built on. It joins R rooms × N
//! participants over real WebRTC with the documented protocol, sends pre-encoded media from
//! files (looped, timestamps rewritten) and never decodes what it receives: it counts frames,
//! keyframes, freezes and bytes from the RTP. Its senders may send a browser-like camera and
//! honour the server's `cameraConstraint` ([`camera`]); some receivers may act weak ([`weak`]).
//! [`loss`] impairs loopback with random UDP loss (an
//! nftables rule, only in a network namespace of its own) for the loss test and benchmark H.
//! [`janus`] is a client of Janus's AudioBridge, the peer benchmark E compares audio-only rooms with;
//! [`whep`] a WHEP viewer (benchmark W).

pub mod camera;
pub mod http;
pub mod janus;
pub mod loss;
pub mod media_file;
pub mod probe;
pub mod rtmp_server;
pub mod run;
pub mod session;
pub mod stats;
pub mod weak;
pub mod whep;
