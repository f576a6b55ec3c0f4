//! Plain graph algorithms over adjacency lists of node indices.

/// Kahn's algorithm over `parents[i]` (the nodes `i` depends on). On a
/// cycle, returns the nodes of one cycle in order, first node repeated last.
pub fn topological_order(parents: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = parents.len();
    let mut children = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = vec![0; n];
    for (i, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(i);
            waiting[i] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &c in children[i].iter().rev() {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(c);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every unfinished node has an unfinished parent: walk parents until a
    // node repeats, which closes a cycle.
    let start = (0..n)
        .find(|&i| waiting[i] > 0)
        .expect("some node is unfinished");
    let mut path = vec![start];
    loop {
        let last = *path.last().expect("path is never empty");
        let next = parents[last]
            .iter()
            .copied()
            .find(|&p| waiting[p] > 0)
            .expect("an unfinished node has an unfinished parent");
        if let Some(pos) = path.iter().position(|&x| x == next) {
            let mut cycle: Vec<usize> = path[pos..].to_vec();
            cycle.reverse();
            // Start at the node declared first, so the message is stable.
            let first = (0..cycle.len())
                .min_by_key(|&i| cycle[i])
                .expect("cycle is not empty");
            cycle.rotate_left(first);
            cycle.push(cycle[0]);
            return Err(cycle);
        }
        path.push(next);
    }
}

/// `roots` and everything reachable from them along `edges`, sorted.
pub fn reachable(roots: &[usize], edges: &[Vec<usize>]) -> Vec<usize> {
    let mut seen = vec![false; edges.len()];
    let mut stack: Vec<usize> = roots.to_vec();
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(edges[i].iter().copied());
        }
    }
    (0..edges.len()).filter(|&i| seen[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_parents_first() {
        let parents = vec![vec![1], vec![], vec![0, 1]];
        assert_eq!(topological_order(&parents).unwrap(), vec![1, 0, 2]);
    }

    #[test]
    fn names_a_cycle_in_dependency_order() {
        // 0 <- 1 <- 2 <- 0, and 3 hangs off the cycle.
        let parents = vec![vec![2], vec![0], vec![1], vec![0]];
        let cycle = topological_order(&parents).unwrap_err();
        assert_eq!(cycle, vec![0, 1, 2, 0]);
        for w in cycle.windows(2) {
            assert!(parents[w[1]].contains(&w[0]), "{cycle:?}");
        }
    }

    #[test]
    fn reachability() {
        let children = vec![vec![1], vec![2], vec![], vec![2]];
        assert_eq!(reachable(&[0], &children), vec![0, 1, 2]);
    }
}
