//! The commits every simulated node may hold, as one content-addressed parent map: an id
//! names the same commit everywhere, as in Git. Nodes hold subsets of it.

use std::collections::{BTreeSet, HashMap};

use guts_git::ObjectId;

/// All commits ever made, with their parents.
#[derive(Debug, Default)]
pub struct World {
    parents: HashMap<ObjectId, Vec<ObjectId>>,
    made: u64,
}

impl World {
    /// A new commit over `parents`.
    pub fn commit(&mut self, parents: Vec<ObjectId>) -> ObjectId {
        self.made += 1;
        let mut id = [0u8; 20];
        id[0] = 0xc0;
        id[12..20].copy_from_slice(&self.made.to_be_bytes());
        let id = ObjectId::from_bytes(id);
        self.parents.insert(id, parents);
        id
    }

    /// Commits made so far.
    pub fn commits(&self) -> u64 {
        self.made
    }

    /// `tip` and everything reachable from it (nothing for the zero id).
    pub fn closure(&self, tips: impl IntoIterator<Item = ObjectId>) -> BTreeSet<ObjectId> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<ObjectId> = tips.into_iter().filter(|t| !t.is_zero()).collect();
        while let Some(c) = stack.pop() {
            if seen.insert(c) {
                stack.extend(self.parents.get(&c).into_iter().flatten().copied());
            }
        }
        seen
    }
}

impl guts_net::Ancestry for World {
    fn contains(&self, tip: &ObjectId, ancestor: &ObjectId) -> bool {
        let mut stack = vec![*tip];
        let mut seen = BTreeSet::new();
        while let Some(c) = stack.pop() {
            if c == *ancestor {
                return true;
            }
            if seen.insert(c) {
                stack.extend(self.parents.get(&c).into_iter().flatten().copied());
            }
        }
        false
    }
}
