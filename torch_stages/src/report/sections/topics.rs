//! Section 8 (the paper's Table 2): the strongest items of the first
//! topics of each factorized source, so that a reader can judge whether
//! the topics mean something.

use std::collections::BTreeMap;

use crate::report::document::{Block, Cell, Section, Table};
use crate::report::inputs::Topics;

pub fn section(topics: &[Topics], topics_shown: usize, items_shown: usize) -> Section {
    let mut s = Section::new("topics", "Strongest items per topic");
    if topics.is_empty() {
        s.missing("no factorize node was given as `topics`, so no topic can be shown.");
        return s;
    }
    let mut rows = Vec::new();
    for t in topics {
        let mut by_topic: BTreeMap<u32, Vec<(u32, &str)>> = BTreeMap::new();
        for item in &t.items {
            by_topic
                .entry(item.topic)
                .or_default()
                .push((item.rank, item.item.as_str()));
        }
        if by_topic.is_empty() {
            s.missing(format!("node {} lists no top items.", t.node));
        }
        for (topic, mut items) in by_topic.into_iter().take(topics_shown) {
            items.sort();
            let names: Vec<&str> = items
                .iter()
                .take(items_shown)
                .map(|(_, name)| *name)
                .collect();
            rows.push(vec![
                Cell::plain(&t.label),
                Cell::plain(format!("{}{topic}", t.label)),
                Cell::plain(names.join(", ")),
            ]);
        }
    }
    s.push(Block::Table(Table {
        caption: format!(
            "Table 2 analogue: the {items_shown} strongest items of the first {topics_shown} \
             topics of each source (pLSA)"
        ),
        header: vec!["source".into(), "topic".into(), "strongest items".into()],
        rows,
    }));
    s
}
