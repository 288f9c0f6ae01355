//! Function prototypes: the replacement's from the module's DWARF (`DW_TAG_subprogram` and its
//! `DW_TAG_formal_parameter`s), the original's from the kernel's BTF, both rendered as C text by
//! [`TypeText`] so they compare as strings.

use std::collections::HashMap;
use std::fmt;

use gimli::{AttributeValue, UnitOffset};
use serde::{Deserialize, Serialize};

use crate::dwarf::{named_subprograms, string_attr, Slice};
use crate::elf::ElfObject;

/// A function's return and parameter types, as C text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prototype {
    /// The return type.
    pub returns: String,
    /// The declared parameters' types, in order.
    pub params: Vec<String>,
    /// Whether it ends with `...`.
    pub variadic: bool,
}

impl fmt::Display for Prototype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", TypeText::function(self))
    }
}

impl Prototype {
    /// How `self` (a replacement) differs from `original`, in words; `None` when it does not.
    pub fn difference(&self, original: &Prototype) -> Option<String> {
        if self.params.len() != original.params.len() || self.variadic != original.variadic {
            return Some(format!(
                "{} parameter(s){} instead of {}{}",
                self.params.len(),
                if self.variadic { " and ..." } else { "" },
                original.params.len(),
                if original.variadic { " and ..." } else { "" },
            ));
        }
        let mut differences: Vec<String> = self
            .params
            .iter()
            .zip(&original.params)
            .enumerate()
            .filter(|(_, (new, old))| new != old)
            .map(|(i, (new, old))| format!("parameter {} is `{new}`, not `{old}`", i + 1))
            .collect();
        if self.returns != original.returns {
            differences.push(format!(
                "returns `{}`, not `{}`",
                self.returns, original.returns
            ));
        }
        (!differences.is_empty()).then(|| differences.join("; "))
    }
}

/// The one way both readers spell C types.
pub struct TypeText;

impl TypeText {
    /// `void`.
    pub fn void() -> String {
        "void".into()
    }

    /// A type nested deeper than the readers follow.
    pub fn too_deep() -> String {
        "<too deep>".into()
    }

    /// A type the readers cannot name.
    pub fn unknown() -> String {
        "<unknown>".into()
    }

    /// A named type: `int`, `size_t`, `struct file` (`struct {anon}` without a name).
    pub fn named(keyword: &str, name: &str) -> String {
        match (keyword, name) {
            ("", "") => Self::unknown(),
            ("", name) => name.to_string(),
            (keyword, "") => format!("{keyword} {{anon}}"),
            (keyword, name) => format!("{keyword} {name}"),
        }
    }

    /// A pointer to `inner`.
    pub fn pointer(inner: &str) -> String {
        format!("{inner} *")
    }

    /// `const`/`volatile` `inner`.
    pub fn qualified(word: &str, inner: &str) -> String {
        format!("{word} {inner}")
    }

    /// An array of `count` elements.
    pub fn array(element: &str, count: u32) -> String {
        format!("{element}[{count}]")
    }

    /// A function type: `int (const char *, ...)`.
    pub fn function(prototype: &Prototype) -> String {
        let mut params = prototype.params.clone();
        if prototype.variadic {
            params.push("...".into());
        }
        format!("{} ({})", prototype.returns, params.join(", "))
    }
}

const MAX_DEPTH: usize = 24;

/// Reads the prototypes of the functions named in `names` from a relocatable object's DWARF.
/// Functions the DWARF does not describe are absent from the result.
pub fn from_module_dwarf(object: &ElfObject<'_>, names: &[&str]) -> HashMap<String, Prototype> {
    named_subprograms(object, names, |dwarf, unit, entry| {
        let declaration = entry.attr(gimli::DW_AT_declaration).ok().flatten();
        if declaration.is_some() {
            return None;
        }
        TypeReader { dwarf, unit }.subprogram(entry.offset())
    })
}

/// Renders DWARF types of one unit.
struct TypeReader<'d, 'a> {
    dwarf: &'d gimli::Dwarf<Slice<'a>>,
    unit: &'d gimli::Unit<Slice<'a>>,
}

impl TypeReader<'_, '_> {
    /// The prototype of a subprogram or subroutine type: its `DW_AT_type` and its children.
    fn subprogram(&self, offset: UnitOffset) -> Option<Prototype> {
        let entry = self.unit.entry(offset).ok()?;
        let returns = self.type_attr(&entry, 0);
        let mut tree = self.unit.entries_tree(Some(offset)).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        let mut params = Vec::new();
        let mut variadic = false;
        while let Ok(Some(child)) = children.next() {
            match child.entry().tag() {
                gimli::DW_TAG_formal_parameter => {
                    params.push(self.type_attr(child.entry(), 0));
                }
                gimli::DW_TAG_unspecified_parameters => variadic = true,
                _ => {}
            }
        }
        Some(Prototype {
            returns,
            params,
            variadic,
        })
    }

    fn type_attr(
        &self,
        entry: &gimli::DebuggingInformationEntry<'_, '_, Slice<'_>>,
        depth: usize,
    ) -> String {
        match entry.attr_value(gimli::DW_AT_type).ok().flatten() {
            Some(AttributeValue::UnitRef(offset)) => self.render(offset, depth + 1),
            Some(_) => TypeText::unknown(),
            None => TypeText::void(),
        }
    }

    fn render(&self, offset: UnitOffset, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return TypeText::too_deep();
        }
        let Ok(entry) = self.unit.entry(offset) else {
            return TypeText::unknown();
        };
        let name =
            || string_attr(self.dwarf, self.unit, &entry, gimli::DW_AT_name).unwrap_or_default();
        match entry.tag() {
            gimli::DW_TAG_base_type | gimli::DW_TAG_typedef | gimli::DW_TAG_unspecified_type => {
                TypeText::named("", &name())
            }
            gimli::DW_TAG_structure_type => TypeText::named("struct", &name()),
            gimli::DW_TAG_union_type => TypeText::named("union", &name()),
            gimli::DW_TAG_enumeration_type => TypeText::named("enum", &name()),
            gimli::DW_TAG_pointer_type => TypeText::pointer(&self.type_attr(&entry, depth)),
            gimli::DW_TAG_const_type => {
                TypeText::qualified("const", &self.type_attr(&entry, depth))
            }
            gimli::DW_TAG_volatile_type => {
                TypeText::qualified("volatile", &self.type_attr(&entry, depth))
            }
            gimli::DW_TAG_restrict_type | gimli::DW_TAG_atomic_type => {
                self.type_attr(&entry, depth)
            }
            gimli::DW_TAG_array_type => {
                TypeText::array(&self.type_attr(&entry, depth), self.array_count(offset))
            }
            gimli::DW_TAG_subroutine_type => match self.subprogram(offset) {
                Some(prototype) => TypeText::function(&prototype),
                None => TypeText::unknown(),
            },
            _ => TypeText::unknown(),
        }
    }

    fn array_count(&self, offset: UnitOffset) -> u32 {
        let count = || -> Option<u64> {
            let mut tree = self.unit.entries_tree(Some(offset)).ok()?;
            let root = tree.root().ok()?;
            let mut children = root.children();
            let child = children.next().ok()??;
            let entry = child.entry();
            if let Some(count) = entry.attr_value(gimli::DW_AT_count).ok()? {
                return count.udata_value();
            }
            let upper = entry.attr_value(gimli::DW_AT_upper_bound).ok()??;
            upper.udata_value().map(|u| u + 1)
        };
        count().and_then(|c| u32::try_from(c).ok()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proto(returns: &str, params: &[&str], variadic: bool) -> Prototype {
        Prototype {
            returns: returns.into(),
            params: params
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            variadic,
        }
    }

    #[test]
    fn differences_in_words() {
        let original = proto("int", &["struct seq_file *", "void *"], false);
        assert_eq!(original.difference(&original), None);
        let fewer = proto("int", &["struct seq_file *"], false);
        assert_eq!(
            fewer.difference(&original).unwrap(),
            "1 parameter(s) instead of 2"
        );
        let retyped = proto("long int", &["struct seq_file *", "char *"], false);
        assert_eq!(
            retyped.difference(&original).unwrap(),
            "parameter 2 is `char *`, not `void *`; returns `long int`, not `int`"
        );
        assert_eq!(original.to_string(), "int (struct seq_file *, void *)");
    }
}
