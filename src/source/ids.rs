//! Feature ids: the source value when it is present and unique, else a
//! synthetic `<layer>:<fid>`.

use std::collections::HashSet;

use crate::layer::SyntheticId;

/// Hands out ids unique within one layer, in feature order.
pub(super) struct IdAssigner {
    layer: String,
    taken: HashSet<String>,
    pub synthetic: Vec<SyntheticId>,
}

impl IdAssigner {
    pub fn new(layer: &str) -> Self {
        IdAssigner {
            layer: layer.to_owned(),
            taken: HashSet::new(),
            synthetic: Vec::new(),
        }
    }

    /// Returns the id of feature `fid` and whether it is synthetic. The
    /// first feature with a value keeps it; later ones with the same value
    /// get a synthetic id, as do features without one.
    pub fn assign(&mut self, fid: i64, source_value: Option<String>) -> (String, bool) {
        let reason = match &source_value {
            Some(value) if self.taken.insert(value.clone()) => return (value.clone(), false),
            Some(_) => "repeated",
            None => "missing",
        };
        let id = self.synthetic_id(fid);
        self.synthetic.push(SyntheticId {
            id: id.clone(),
            source_value,
            reason: reason.to_owned(),
        });
        (id, true)
    }

    /// Returns the id a rejected feature `fid` is reported under, taken as
    /// [`IdAssigner::assign`] takes it, so that the report's ids stay unique,
    /// but listed nowhere as synthetic because the feature is not kept.
    pub fn reserve(&mut self, fid: i64, source_value: Option<String>) -> String {
        match source_value {
            Some(value) if self.taken.insert(value.clone()) => value,
            _ => self.synthetic_id(fid),
        }
    }

    /// `<layer>:<fid>`, with a `~n` suffix in the unlikely case that a
    /// source value already has that form.
    fn synthetic_id(&mut self, fid: i64) -> String {
        let base = format!("{}:{fid}", self.layer);
        let mut id = base.clone();
        let mut n = 1;
        while !self.taken.insert(id.clone()) {
            n += 1;
            id = format!("{base}~{n}");
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_value_keeps_first() {
        let mut ids = IdAssigner::new("taxi");
        assert_eq!(
            ids.assign(0, Some("27-474".into())),
            ("27-474".to_owned(), false)
        );
        assert_eq!(
            ids.assign(1, Some("27-474".into())),
            ("taxi:1".to_owned(), true)
        );
        assert_eq!(ids.synthetic[0].reason, "repeated");
        assert_eq!(ids.synthetic[0].source_value.as_deref(), Some("27-474"));
    }

    #[test]
    fn missing_value_gets_fid() {
        let mut ids = IdAssigner::new("stops");
        assert_eq!(ids.assign(7, None), ("stops:7".to_owned(), true));
        assert_eq!(ids.synthetic[0].reason, "missing");
    }

    #[test]
    fn rejected_feature_takes_its_id() {
        let mut ids = IdAssigner::new("parks");
        assert_eq!(ids.reserve(0, Some("P1".into())), "P1");
        assert_eq!(ids.reserve(1, None), "parks:1");
        assert_eq!(
            ids.assign(2, Some("P1".into())),
            ("parks:2".to_owned(), true)
        );
        assert_eq!(ids.synthetic.len(), 1);
        assert_eq!(ids.synthetic[0].id, "parks:2");
    }

    #[test]
    fn synthetic_never_collides() {
        let mut ids = IdAssigner::new("a");
        ids.assign(0, Some("a:1".into()));
        let (id, synthetic) = ids.assign(1, None);
        assert!(synthetic);
        assert_eq!(id, "a:1~2");
    }
}
