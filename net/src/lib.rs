//! guts-net: libp2p networking (DESIGN.md sections 2 and 3).
//!
//! Layout (arrives with replication, issue 4): identity, discovery, signed gossip
//! announcements, pack transfer by request-response, anti-entropy, and a replication state
//! machine that does no I/O.
