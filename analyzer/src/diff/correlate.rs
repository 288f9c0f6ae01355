//! Pairing the symbols of the original object with those of the patched one.
//!
//! Order of evidence:
//! 1. identical names that are unique on both sides (not `__UNIQUE_ID_` names, whose counter
//!    values may have shifted onto other things);
//! 2. names equal once compiler numbering is removed (`foo.isra.3` ↔ `foo.isra.5`,
//!    `foo.cold.1` ↔ `foo.cold.2`, `__UNIQUE_ID_ddebug12` ↔ `__UNIQUE_ID_ddebug13`), paired in
//!    symbol-table order within each name;
//! 3. numbered static locals (`count.1234` ↔ `count.1240`) through the paired functions and
//!    objects that refer to them, in order of first reference;
//! 4. static locals left over whose base name is unique on both sides.
//!
//! Per-call-site statics (`__warned.N`, `__func__.N`, `__key.N`, ...) and compiler labels
//! (`.LC3`) are never paired: the comparison matches them by base name or by contents.

use std::collections::HashMap;

use super::names::{canonical, has_counter, has_numeric_suffix, is_per_site_static};
use super::resolve::{Resolution, Target};
use crate::elf::{Binding, ElfObject, Placement, SymbolId, SymbolKind};

/// How a symbol takes part in correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Section, file, label, undefined and null symbols: compared by name, never paired.
    Unpaired,
    /// Per-call-site macro state: compared by base name.
    PerSite,
    /// A numbered static local variable: paired through its users.
    StaticLocal,
    /// Any other defined symbol: paired by name.
    Named,
}

/// The role of symbol `id` in `model`.
pub fn role(model: &ElfObject<'_>, id: SymbolId) -> Role {
    let symbol = &model.symbols[id];
    let Placement::Section(section) = symbol.placement else {
        return Role::Unpaired;
    };
    if id == 0
        || symbol.name.is_empty()
        || symbol.is_local_label()
        || matches!(symbol.kind, SymbolKind::Section | SymbolKind::File)
    {
        return Role::Unpaired;
    }
    if symbol.kind == SymbolKind::Object && symbol.binding == Binding::Local {
        if is_per_site_static(symbol.name, model.sections[section].name) {
            return Role::PerSite;
        }
        if has_numeric_suffix(symbol.name) {
            return Role::StaticLocal;
        }
    }
    Role::Named
}

/// The pairing between the symbols of two objects.
#[derive(Debug, Clone)]
pub struct Correlation {
    to_patched: Vec<Option<SymbolId>>,
    to_orig: Vec<Option<SymbolId>>,
}

impl Correlation {
    /// The patched twin of original symbol `orig`.
    pub fn patched_of(&self, orig: SymbolId) -> Option<SymbolId> {
        self.to_patched.get(orig).copied().flatten()
    }

    /// The original twin of patched symbol `patched`.
    pub fn orig_of(&self, patched: SymbolId) -> Option<SymbolId> {
        self.to_orig.get(patched).copied().flatten()
    }

    fn pair(&mut self, orig: SymbolId, patched: SymbolId) {
        self.to_patched[orig] = Some(patched);
        self.to_orig[patched] = Some(orig);
    }

    /// Pairs the symbols of `orig` and `patched`, using their resolved relocations to pair
    /// static locals.
    pub fn build(
        orig: &ElfObject<'_>,
        orig_targets: &Resolution,
        patched: &ElfObject<'_>,
        patched_targets: &Resolution,
    ) -> Self {
        let mut corr = Self {
            to_patched: vec![None; orig.symbols.len()],
            to_orig: vec![None; patched.symbols.len()],
        };
        let orig_roles: Vec<Role> = (0..orig.symbols.len()).map(|i| role(orig, i)).collect();
        let patched_roles: Vec<Role> = (0..patched.symbols.len())
            .map(|i| role(patched, i))
            .collect();

        corr.pair_exact(orig, &orig_roles, patched, &patched_roles);
        corr.pair_by_base_name(orig, &orig_roles, patched, &patched_roles, Role::Named);
        corr.pair_statics_by_users(
            orig,
            orig_targets,
            &orig_roles,
            patched,
            patched_targets,
            &patched_roles,
        );
        corr.pair_by_base_name(
            orig,
            &orig_roles,
            patched,
            &patched_roles,
            Role::StaticLocal,
        );
        corr
    }

    fn pair_exact(
        &mut self,
        orig: &ElfObject<'_>,
        orig_roles: &[Role],
        patched: &ElfObject<'_>,
        patched_roles: &[Role],
    ) {
        for (id, symbol) in orig.symbols.iter().enumerate() {
            if orig_roles[id] != Role::Named || has_counter(symbol.name) {
                continue;
            }
            let mine: Vec<_> = orig
                .symbols_named(symbol.name)
                .iter()
                .filter(|&&s| orig_roles[s] == Role::Named)
                .collect();
            let theirs: Vec<_> = patched
                .symbols_named(symbol.name)
                .iter()
                .copied()
                .filter(|&s| patched_roles[s] == Role::Named)
                .collect();
            if mine.len() == 1 && theirs.len() == 1 && self.to_orig[theirs[0]].is_none() {
                self.pair(id, theirs[0]);
            }
        }
    }

    fn pair_by_base_name(
        &mut self,
        orig: &ElfObject<'_>,
        orig_roles: &[Role],
        patched: &ElfObject<'_>,
        patched_roles: &[Role],
        wanted: Role,
    ) {
        let key = |model: &ElfObject<'_>, id: SymbolId| {
            (
                canonical(model.symbols[id].name).into_owned(),
                model.symbols[id].kind as u8,
            )
        };
        let mut waiting: HashMap<(String, u8), Vec<SymbolId>> = HashMap::new();
        for id in (0..patched.symbols.len()).rev() {
            if patched_roles[id] == wanted && self.to_orig[id].is_none() {
                waiting.entry(key(patched, id)).or_default().push(id);
            }
        }
        let mut unpaired: HashMap<(String, u8), usize> = HashMap::new();
        for (id, &r) in orig_roles.iter().enumerate() {
            if r == wanted && self.to_patched[id].is_none() {
                *unpaired.entry(key(orig, id)).or_default() += 1;
            }
        }
        for (id, &r) in orig_roles.iter().enumerate() {
            if r != wanted || self.to_patched[id].is_some() {
                continue;
            }
            let k = key(orig, id);
            // Static locals are paired by name only when the name is unambiguous.
            if wanted == Role::StaticLocal
                && (unpaired.get(&k) != Some(&1) || waiting.get(&k).map_or(0, Vec::len) != 1)
            {
                continue;
            }
            if let Some(twin) = waiting.get_mut(&k).and_then(Vec::pop) {
                self.pair(id, twin);
            }
        }
    }

    fn pair_statics_by_users(
        &mut self,
        orig: &ElfObject<'_>,
        orig_targets: &Resolution,
        orig_roles: &[Role],
        patched: &ElfObject<'_>,
        patched_targets: &Resolution,
        patched_roles: &[Role],
    ) {
        for user in 0..orig.symbols.len() {
            let Some(twin) = self.patched_of(user) else {
                continue;
            };
            let mine = statics_used_by(orig, orig_targets, orig_roles, user);
            let mut theirs = statics_used_by(patched, patched_targets, patched_roles, twin);
            for var in mine {
                if self.to_patched[var].is_some() {
                    continue;
                }
                let base = canonical(orig.symbols[var].name);
                let found = theirs.iter().position(|&p| {
                    self.to_orig[p].is_none()
                        && canonical(patched.symbols[p].name) == base
                        && patched.symbols[p].kind == orig.symbols[var].kind
                });
                if let Some(at) = found {
                    let p = theirs.remove(at);
                    self.pair(var, p);
                }
            }
        }
    }
}

/// The numbered static locals that symbol `user`'s bytes refer to, in order of first reference.
fn statics_used_by(
    model: &ElfObject<'_>,
    targets: &Resolution,
    roles: &[Role],
    user: SymbolId,
) -> Vec<SymbolId> {
    let symbol = &model.symbols[user];
    let Some(section) = symbol.section() else {
        return Vec::new();
    };
    let sec = &model.sections[section];
    let range = sec.reloc_range(symbol.value, symbol.value + symbol.size.max(1));
    let mut found = Vec::new();
    for target in &targets.targets(section)[range] {
        if let Target::Symbol { symbol: s, .. } = *target {
            if roles[s] == Role::StaticLocal && !found.contains(&s) {
                found.push(s);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::testobj::{ObjBuilder, RelocSpec};
    use super::*;
    use crate::diff::LoadedObject;
    use std::path::Path;

    fn build(b: ObjBuilder) -> LoadedObject {
        LoadedObject::from_bytes(Path::new("t.o"), b.finish())
    }

    fn twin_name<'a>(
        orig: &ElfObject<'_>,
        patched: &'a ElfObject<'a>,
        corr: &Correlation,
        name: &str,
    ) -> Option<&'a str> {
        let id = orig.symbols_named(name)[0];
        corr.patched_of(id).map(|p| patched.symbols[p].name)
    }

    #[test]
    fn clones_and_parts_pair_across_renumbering() {
        let mut a = ObjBuilder::new();
        a.function("caller", &[0xc3; 8], &[]);
        a.local_function("helper.isra.3", &[0xc3; 4], &[]);
        a.local_function("helper.constprop.0", &[0xc3; 4], &[]);
        a.local_function("caller.cold.1", &[0xc3; 2], &[]);
        let mut b = ObjBuilder::new();
        b.local_function("caller.cold.4", &[0xc3; 2], &[]);
        b.local_function("helper.constprop.2", &[0xc3; 4], &[]);
        b.local_function("helper.isra.7", &[0xc3; 4], &[]);
        b.function("caller", &[0xc3; 8], &[]);
        let (a, b) = (build(a), build(b));
        let (ma, mb) = (a.parse().unwrap(), b.parse().unwrap());
        let corr = Correlation::build(&ma, &Resolution::build(&ma), &mb, &Resolution::build(&mb));
        assert_eq!(twin_name(&ma, &mb, &corr, "caller"), Some("caller"));
        assert_eq!(
            twin_name(&ma, &mb, &corr, "helper.isra.3"),
            Some("helper.isra.7")
        );
        assert_eq!(
            twin_name(&ma, &mb, &corr, "helper.constprop.0"),
            Some("helper.constprop.2")
        );
        assert_eq!(
            twin_name(&ma, &mb, &corr, "caller.cold.1"),
            Some("caller.cold.4")
        );
    }

    #[test]
    fn static_locals_pair_through_their_users_not_their_numbers() {
        // Two functions each own a static called `count`; the numbers are swapped in the
        // patched build, so pairing by number would cross them.
        let mut a = ObjBuilder::new();
        let a1 = a.local_object("count.100", 4);
        let a2 = a.local_object("count.200", 4);
        a.function(
            "f",
            &[0x8b, 0x05, 0, 0, 0, 0, 0xc3],
            &[RelocSpec::pc32(2, a1)],
        );
        a.function(
            "g",
            &[0x8b, 0x05, 0, 0, 0, 0, 0xc3],
            &[RelocSpec::pc32(2, a2)],
        );
        let mut b = ObjBuilder::new();
        let b1 = b.local_object("count.200", 4);
        let b2 = b.local_object("count.100", 4);
        b.function(
            "f",
            &[0x8b, 0x05, 0, 0, 0, 0, 0xc3],
            &[RelocSpec::pc32(2, b1)],
        );
        b.function(
            "g",
            &[0x8b, 0x05, 0, 0, 0, 0, 0xc3],
            &[RelocSpec::pc32(2, b2)],
        );
        let (a, b) = (build(a), build(b));
        let (ma, mb) = (a.parse().unwrap(), b.parse().unwrap());
        let corr = Correlation::build(&ma, &Resolution::build(&ma), &mb, &Resolution::build(&mb));
        assert_eq!(twin_name(&ma, &mb, &corr, "count.100"), Some("count.200"));
        assert_eq!(twin_name(&ma, &mb, &corr, "count.200"), Some("count.100"));
    }

    #[test]
    fn per_site_statics_and_labels_stay_unpaired() {
        let mut a = ObjBuilder::new();
        let w = a.local_object("__warned.41", 1);
        a.function(
            "f",
            &[0x8b, 0x05, 0, 0, 0, 0, 0xc3],
            &[RelocSpec::pc32(2, w)],
        );
        let mut b = ObjBuilder::new();
        let w = b.local_object("__warned.41", 1);
        b.function(
            "f",
            &[0x8b, 0x05, 0, 0, 0, 0, 0xc3],
            &[RelocSpec::pc32(2, w)],
        );
        let (a, b) = (build(a), build(b));
        let (ma, mb) = (a.parse().unwrap(), b.parse().unwrap());
        let corr = Correlation::build(&ma, &Resolution::build(&ma), &mb, &Resolution::build(&mb));
        let id = ma.symbols_named("__warned.41")[0];
        assert_eq!(role(&ma, id), Role::PerSite);
        assert_eq!(corr.patched_of(id), None);
    }

    #[test]
    fn leftover_static_with_unique_base_name_pairs() {
        let mut a = ObjBuilder::new();
        a.local_object("table.7", 8);
        let mut b = ObjBuilder::new();
        b.local_object("table.9", 8);
        let (a, b) = (build(a), build(b));
        let (ma, mb) = (a.parse().unwrap(), b.parse().unwrap());
        let corr = Correlation::build(&ma, &Resolution::build(&ma), &mb, &Resolution::build(&mb));
        assert_eq!(twin_name(&ma, &mb, &corr, "table.7"), Some("table.9"));
    }
}
