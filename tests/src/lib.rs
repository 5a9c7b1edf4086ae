//! guts-tests: end-to-end tests that start real nodes on 127.0.0.1 and drive them with real
//! git clients and real sockets. The tests arrive with the node (issue 3).
