//! Issues and pull requests as replicated objects (issue 17): each is the set of its
//! signed operations, and its state a deterministic fold over that set.
//!
//! - `op.rs`: [`Op`], what a user did (open, edit, comment, label, assign, close, reopen,
//!   review, merge), stamped by the accepting node; limits on every text.
//! - `fold.rs`: [`fold`], a thread's state from its operations, whatever their order.
//! - `number.rs`: [`numbers`], `#N` per repository without a central counter.

mod fold;
mod number;
mod op;
#[cfg(test)]
mod tests;

pub use fold::{Comment, Review, State, Thread, fold};
pub use number::{numbers, propose};
pub use op::{
    Action, Head, Kind, MAX_BODY, MAX_NAME, MAX_TITLE, MergeStrategy, Op, OpError, OpId, ThreadId,
    Verdict,
};
