//! A reader for the kernel's BTF (`.BTF` of vmlinux, `/sys/kernel/btf/vmlinux`): the header,
//! the type section and the string section, enough to name each function's parameter and
//! return types and to find where a member lies in a struct.
//!
//! Types render as C spells them, in the same way as [`super::prototype`] renders DWARF types,
//! so the two can be compared as strings: `const char *`, `struct file *`, `size_t`.

use super::prototype::{Prototype, TypeText};

const MAGIC: u16 = 0xeb9f;
const MAX_DEPTH: usize = 24;

/// What lpcheck keeps of one BTF type.
#[derive(Debug, Clone)]
enum Type {
    /// A type named by itself, with the C keyword that precedes the name (`struct`, ...).
    Named { keyword: &'static str, name: u32 },
    /// A struct or union with its members: `(name, offset in bits)`.
    Composite {
        keyword: &'static str,
        name: u32,
        members: Vec<(u32, u32)>,
    },
    /// A pointer to a type.
    Pointer(u32),
    /// A qualifier (`const`, `volatile`) of a type.
    Qualified(&'static str, u32),
    /// A modifier C does not spell in a prototype (`restrict`, type tags).
    Transparent(u32),
    /// An array.
    Array { element: u32, count: u32 },
    /// A function prototype: return type and parameter types (0 = `...`).
    Prototype { returns: u32, params: Vec<u32> },
    /// A function: its name and prototype.
    Function { name: u32, prototype: u32 },
    /// Anything a prototype does not contain (variables, data sections, tags).
    Other,
}

/// Parsed BTF.
#[derive(Debug, Clone)]
pub struct Btf {
    types: Vec<Type>,
    strings: Vec<u8>,
}

/// Why BTF could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed BTF: {0}")]
pub struct BtfError(String);

fn bad(detail: impl Into<String>) -> BtfError {
    BtfError(detail.into())
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, BtfError> {
        let bytes = self
            .data
            .get(self.at..self.at + 4)
            .ok_or_else(|| bad(format!("type section truncated at byte {}", self.at)))?;
        self.at += 4;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    fn skip(&mut self, bytes: usize) -> Result<(), BtfError> {
        if self.at + bytes > self.data.len() {
            return Err(bad(format!("type section truncated at byte {}", self.at)));
        }
        self.at += bytes;
        Ok(())
    }
}

impl Btf {
    /// Parses little-endian BTF.
    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        let field = |at: usize| -> Result<u32, BtfError> {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                .ok_or_else(|| bad("header truncated"))
        };
        let magic = data
            .get(0..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| bad("header truncated"))?;
        if magic != MAGIC {
            return Err(bad(format!("magic {magic:#x}, expected {MAGIC:#x}")));
        }
        let header_len = field(4)? as usize;
        let section = |offset: u32, len: u32, what: &str| -> Result<&[u8], BtfError> {
            let start = header_len + offset as usize;
            data.get(start..start + len as usize)
                .ok_or_else(|| bad(format!("{what} section outside the data")))
        };
        let type_section = section(field(8)?, field(12)?, "type")?;
        let strings = section(field(16)?, field(20)?, "string")?.to_vec();
        let mut types = vec![Type::Other];
        let mut reader = Reader {
            data: type_section,
            at: 0,
        };
        while reader.at < type_section.len() {
            types.push(read_type(&mut reader)?);
        }
        Ok(Self { types, strings })
    }

    fn string(&self, offset: u32) -> &str {
        let tail = self.strings.get(offset as usize..).unwrap_or_default();
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        std::str::from_utf8(&tail[..end]).unwrap_or("?")
    }

    /// The prototypes of every function called `name` (static functions may share a name).
    pub fn prototypes(&self, name: &str) -> Vec<Prototype> {
        self.types
            .iter()
            .filter_map(|t| match t {
                Type::Function { name: n, prototype } if self.string(*n) == name => {
                    self.prototype(*prototype)
                }
                _ => None,
            })
            .collect()
    }

    /// The byte offset of `member` in `struct structure`, when every struct of that name (BTF
    /// may hold several copies) puts it at the same byte offset.
    pub fn member_offset(&self, structure: &str, member: &str) -> Option<u64> {
        let mut offsets = self.types.iter().filter_map(|t| match t {
            Type::Composite {
                keyword: "struct",
                name,
                members,
            } if self.string(*name) == structure => members
                .iter()
                .find(|&&(m, _)| self.string(m) == member)
                .map(|&(_, bits)| bits),
            _ => None,
        });
        let first = offsets.next()?;
        (first % 8 == 0 && offsets.all(|bits| bits == first)).then_some(u64::from(first / 8))
    }

    fn prototype(&self, id: u32) -> Option<Prototype> {
        let Type::Prototype { returns, params } = self.types.get(id as usize)? else {
            return None;
        };
        let variadic = params.last() == Some(&0);
        let fixed = if variadic {
            &params[..params.len() - 1]
        } else {
            &params[..]
        };
        Some(Prototype {
            returns: self.render(*returns, 0),
            params: fixed.iter().map(|&p| self.render(p, 0)).collect(),
            variadic,
        })
    }

    fn render(&self, id: u32, depth: usize) -> String {
        if id == 0 {
            return TypeText::void();
        }
        if depth > MAX_DEPTH {
            return TypeText::too_deep();
        }
        let next = |inner: u32| self.render(inner, depth + 1);
        match self.types.get(id as usize) {
            Some(Type::Named { keyword, name } | Type::Composite { keyword, name, .. }) => {
                TypeText::named(keyword, self.string(*name))
            }
            Some(Type::Pointer(inner)) => TypeText::pointer(&next(*inner)),
            Some(Type::Qualified(word, inner)) => TypeText::qualified(word, &next(*inner)),
            Some(Type::Transparent(inner)) => next(*inner),
            Some(Type::Array { element, count }) => TypeText::array(&next(*element), *count),
            Some(Type::Prototype { .. }) => match self.prototype(id) {
                Some(p) => TypeText::function(&p),
                None => TypeText::unknown(),
            },
            _ => TypeText::unknown(),
        }
    }
}

fn read_type(reader: &mut Reader<'_>) -> Result<Type, BtfError> {
    let name = reader.u32()?;
    let info = reader.u32()?;
    let size_or_type = reader.u32()?;
    let vlen = (info & 0xffff) as usize;
    let kind = (info >> 24) & 0x1f;
    let kind_flag = info >> 31 == 1;
    Ok(match kind {
        1 => {
            reader.skip(4)?;
            Type::Named { keyword: "", name }
        }
        2 => Type::Pointer(size_or_type),
        3 => {
            let element = reader.u32()?;
            reader.u32()?;
            let count = reader.u32()?;
            Type::Array { element, count }
        }
        4 | 5 => {
            let mut members = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                let member = reader.u32()?;
                reader.u32()?;
                let offset = reader.u32()?;
                // With kind_flag, the top 8 bits are a bitfield's size.
                members.push((
                    member,
                    if kind_flag {
                        offset & 0xff_ffff
                    } else {
                        offset
                    },
                ));
            }
            Type::Composite {
                keyword: if kind == 4 { "struct" } else { "union" },
                name,
                members,
            }
        }
        6 => {
            reader.skip(8 * vlen)?;
            Type::Named {
                keyword: "enum",
                name,
            }
        }
        7 => Type::Named {
            keyword: if kind_flag { "union" } else { "struct" },
            name,
        },
        8 | 16 => Type::Named { keyword: "", name },
        9 => Type::Qualified("volatile", size_or_type),
        10 => Type::Qualified("const", size_or_type),
        11 | 18 => Type::Transparent(size_or_type),
        12 => Type::Function {
            name,
            prototype: size_or_type,
        },
        13 => {
            let mut params = Vec::with_capacity(vlen);
            for _ in 0..vlen {
                reader.u32()?;
                params.push(reader.u32()?);
            }
            Type::Prototype {
                returns: size_or_type,
                params,
            }
        }
        14 | 17 => {
            reader.skip(4)?;
            Type::Other
        }
        15 => {
            reader.skip(12 * vlen)?;
            Type::Other
        }
        19 => {
            reader.skip(12 * vlen)?;
            Type::Named {
                keyword: "enum",
                name,
            }
        }
        other => return Err(bad(format!("unknown type kind {other}"))),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds BTF from `(name, info, size_or_type, extra words)` entries and a string table.
    pub(crate) fn build(types: &[(u32, u32, u32, &[u32])], strings: &[u8]) -> Vec<u8> {
        let mut section = Vec::new();
        for (name, info, size, extra) in types {
            for word in [*name, *info, *size].iter().chain(extra.iter()) {
                section.extend_from_slice(&word.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for word in [
            24,
            0,
            section.len() as u32,
            section.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&section);
        out.extend_from_slice(strings);
        out
    }

    pub(crate) const STRINGS: &[u8] = b"\0int\0char\0foo\0x\0file\0size_t\0long unsigned int\0";

    /// `int foo(const char *, struct file *, size_t, ...)`.
    pub(crate) fn sample() -> Vec<u8> {
        let kind = |k: u32, vlen: u32| (k << 24) | vlen;
        build(
            &[
                (1, kind(1, 0), 4, &[0x0100_0020]),              // 1 int
                (5, kind(1, 0), 1, &[0x0100_0008]),              // 2 char
                (0, kind(10, 0), 2, &[]),                        // 3 const char
                (0, kind(2, 0), 3, &[]),                         // 4 const char *
                (16, kind(7, 0), 0, &[]),                        // 5 struct file (fwd)
                (0, kind(2, 0), 5, &[]),                         // 6 struct file *
                (28, kind(1, 0), 8, &[0x40]),                    // 7 long unsigned int
                (21, kind(8, 0), 7, &[]),                        // 8 size_t
                (0, kind(13, 4), 1, &[14, 4, 0, 6, 0, 8, 0, 0]), // 9 proto
                (10, kind(12, 0), 9, &[]),                       // 10 foo
            ],
            STRINGS,
        )
    }

    #[test]
    fn renders_function_prototypes() {
        let btf = Btf::parse(&sample()).unwrap();
        let found = btf.prototypes("foo");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].returns, "int");
        assert_eq!(found[0].params, ["const char *", "struct file *", "size_t"]);
        assert!(found[0].variadic);
        assert!(btf.prototypes("bar").is_empty());
    }

    #[test]
    fn finds_struct_members() {
        // "\0int\0char\0foo\0x\0file\0...": a struct foo { int x; int file:3; } of 8 bytes
        // whose second member is a bitfield at bit 32, and an incomplete struct x.
        let kind = |k: u32, vlen: u32| (k << 24) | vlen;
        let data = build(
            &[
                (1, kind(1, 0), 4, &[0x0100_0020]),
                (
                    10,
                    kind(4, 2) | 1 << 31,
                    8,
                    &[14, 1, 0, 16, 1, (3 << 24) | 32],
                ),
                (14, kind(4, 0), 0, &[]),
            ],
            STRINGS,
        );
        let btf = Btf::parse(&data).unwrap();
        assert_eq!(btf.member_offset("foo", "x"), Some(0));
        assert_eq!(btf.member_offset("foo", "file"), Some(4));
        assert_eq!(btf.member_offset("foo", "size_t"), None);
        assert_eq!(btf.member_offset("x", "x"), None);
        assert_eq!(btf.member_offset("file", "x"), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"\x00\x01").is_err());
        let mut data = sample();
        data.truncate(40);
        assert!(Btf::parse(&data).is_err());
    }
}
