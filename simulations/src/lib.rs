//! guts-sim: many nodes in one process under a deterministic scheduler (convergence, churn,
//! partitions, scale). Arrives with the replication state machine (issue 4).
