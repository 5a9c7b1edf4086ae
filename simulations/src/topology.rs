//! Who is connected to whom: the shapes real networks take (every pair, a random graph of a
//! chosen degree, a line, a ring, clusters joined by one bridge), as adjacency lists.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::rng::Rng;

/// A network's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Every node linked to every other.
    Mesh,
    /// Each node linked to about `degree` others at random (a ring underneath keeps the
    /// graph connected).
    Random {
        /// Links per node, on average.
        degree: usize,
    },
    /// Node i linked to i-1 and i+1.
    Line,
    /// A line whose ends are linked too.
    Ring,
    /// `clusters` equal groups, each a full mesh, joined in a chain by one link between
    /// neighbouring groups (the bridges).
    Bridge {
        /// Groups.
        clusters: usize,
    },
}

impl Topology {
    /// Adjacency lists (sorted, no self links) of `n` nodes.
    pub fn build(self, n: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
        let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
        let mut link = |a: usize, b: usize| {
            if a != b {
                edges.insert((a.min(b), a.max(b)));
            }
        };
        match self {
            Topology::Mesh => {
                for a in 0..n {
                    for b in a + 1..n {
                        link(a, b);
                    }
                }
            }
            Topology::Line => (1..n).for_each(|i| link(i - 1, i)),
            Topology::Ring => {
                (1..n).for_each(|i| link(i - 1, i));
                if n > 2 {
                    link(n - 1, 0);
                }
            }
            Topology::Random { degree } => {
                (1..n).for_each(|i| link(i - 1, i));
                if n > 2 {
                    link(n - 1, 0);
                }
                // The ring gives 2 per node; random chords give the rest.
                let chords = n * degree.saturating_sub(2) / 2;
                for _ in 0..chords {
                    let a = rng.below(n as u64) as usize;
                    let b = rng.below(n as u64) as usize;
                    link(a, b);
                }
            }
            Topology::Bridge { clusters } => {
                let k = clusters.clamp(1, n.max(1));
                let size = n.div_ceil(k);
                let group = |g: usize| (g * size)..((g + 1) * size).min(n);
                for g in 0..k {
                    let members: Vec<usize> = group(g).collect();
                    for (i, &a) in members.iter().enumerate() {
                        for &b in &members[i + 1..] {
                            link(a, b);
                        }
                    }
                    // The bridge: last of this group to first of the next.
                    if g + 1 < k
                        && let (Some(&a), Some(b)) = (members.last(), group(g + 1).next())
                    {
                        link(a, b);
                    }
                }
            }
        }
        let mut adj = vec![Vec::new(); n];
        for (a, b) in edges {
            adj[a].push(b);
            adj[b].push(a);
        }
        for list in &mut adj {
            list.sort_unstable();
        }
        adj
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Mesh => write!(f, "mesh"),
            Topology::Random { degree } => write!(f, "random:{degree}"),
            Topology::Line => write!(f, "line"),
            Topology::Ring => write!(f, "ring"),
            Topology::Bridge { clusters } => write!(f, "bridge:{clusters}"),
        }
    }
}

impl FromStr for Topology {
    type Err = String;

    /// `mesh`, `random:DEGREE`, `line`, `ring`, `bridge:CLUSTERS`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        let num = || {
            arg.parse::<usize>()
                .map_err(|_| format!("{s:?}: expected a number after ':'"))
        };
        match kind {
            "mesh" => Ok(Topology::Mesh),
            "line" => Ok(Topology::Line),
            "ring" => Ok(Topology::Ring),
            "random" => Ok(Topology::Random { degree: num()? }),
            "bridge" => Ok(Topology::Bridge { clusters: num()? }),
            _ => Err(format!(
                "{s:?}: expected mesh, random:DEGREE, line, ring or bridge:CLUSTERS"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(adj: &[Vec<usize>]) -> bool {
        let mut seen = vec![false; adj.len()];
        let mut stack = vec![0];
        while let Some(a) = stack.pop() {
            if !std::mem::replace(&mut seen[a], true) {
                stack.extend(&adj[a]);
            }
        }
        seen.iter().all(|s| *s)
    }

    #[test]
    fn shapes_have_the_links_they_promise() {
        let mut rng = Rng::new(1);
        let line = Topology::Line.build(5, &mut rng);
        assert_eq!(line[0], vec![1]);
        assert_eq!(line[2], vec![1, 3]);
        let ring = Topology::Ring.build(5, &mut rng);
        assert_eq!(ring[0], vec![1, 4]);
        let mesh = Topology::Mesh.build(4, &mut rng);
        assert!(mesh.iter().all(|l| l.len() == 3));
        let random = Topology::Random { degree: 6 }.build(200, &mut rng);
        let links: usize = random.iter().map(Vec::len).sum();
        let mean = links as f64 / 200.0;
        assert!((5.0..=6.5).contains(&mean), "{mean}");
        assert!(connected(&random));
        let bridge = Topology::Bridge { clusters: 2 }.build(10, &mut rng);
        assert!(connected(&bridge));
        // One link crosses between the groups.
        let crossing: usize = (0..5)
            .map(|a| bridge[a].iter().filter(|&&b| b >= 5).count())
            .sum();
        assert_eq!(crossing, 1);
        for s in ["mesh", "random:6", "line", "ring", "bridge:3"] {
            assert_eq!(s.parse::<Topology>().expect("parses").to_string(), s);
        }
        assert!("random".parse::<Topology>().is_err());
        assert!("star".parse::<Topology>().is_err());
    }
}
