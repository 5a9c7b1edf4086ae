//! guts-node: the HTTP edge of a node (DESIGN.md section 5): Smart HTTP, REST, health,
//! metrics and the WebSocket hub, wired to the store and the network.
//!
//! Layout: arrives with the single-node work (issue 3).
