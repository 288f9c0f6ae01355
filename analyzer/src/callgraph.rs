//! The module's call graph: its functions and what each calls or references, down to the
//! kernel symbols it uses.
//!
//! Edges come from relocations inside each function (resolved to the symbol they reach, with
//! the PC-relative bias of x86 instructions taken into account) and from direct calls and jumps
//! that the assembler resolved without a relocation, found by disassembling with iced-x86.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, OpKind};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, EdgeRef};
use serde::Serialize;

use crate::elf::{ElfObject, Pointee, SectionId, Symbol, SymbolKind};
use crate::model::KLP_SYM_PREFIX;

/// What a node of the call graph stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NodeKind {
    /// A function the module defines.
    Function {
        /// Its section (e.g. `.text.livepatch_cmdline_proc_show`, `.init.text`).
        section: String,
    },
    /// A data object the module defines.
    Data {
        /// Its section.
        section: String,
    },
    /// A place in a section with no symbol (string literals, anonymous data).
    Anonymous {
        /// The section.
        section: String,
    },
    /// A kernel symbol the module imports by name (undefined in the module).
    Kernel,
    /// A kernel symbol reached through a `.klp.sym` livepatch symbol.
    KlpSymbol {
        /// The object (`vmlinux` or a module).
        object: String,
        /// Its position.
        sympos: u64,
    },
}

/// A node: a name and what it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Node {
    /// Symbol name (for anonymous places, the section name).
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
}

/// How a function reaches a node (ordered strongest first: a call outranks a reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A `call`.
    Call,
    /// A `jmp` or conditional jump out of the function (a tail call).
    Jump,
    /// Any other use: an address taken, data read or written.
    Reference,
}

/// The module's call graph.
#[derive(Debug, Clone, Default)]
pub struct CallGraph {
    graph: DiGraph<Node, EdgeKind>,
    by_name: HashMap<String, NodeIndex>,
}

impl CallGraph {
    /// Builds the graph of every function in the object.
    pub fn build(elf: &ElfObject<'_>) -> Self {
        let mut graph = Self::default();
        for index in 0..elf.sections.len() {
            if !elf.is_code(index) {
                continue;
            }
            for function in elf
                .symbols_in(index)
                .filter(|s| s.kind == SymbolKind::Func && s.size > 0)
            {
                graph.add_function_edges(elf, index, function);
            }
        }
        graph
    }

    fn node(&mut self, node: Node) -> NodeIndex {
        if let Some(&index) = self.by_name.get(&node.name) {
            return index;
        }
        let name = node.name.clone();
        let index = self.graph.add_node(node);
        self.by_name.insert(name, index);
        index
    }

    fn add_function_edges(
        &mut self,
        elf: &ElfObject<'_>,
        section: SectionId,
        function: &Symbol<'_>,
    ) {
        let section_name = elf.section_name(section).to_string();
        let from = self.node(Node {
            name: function.name.to_string(),
            kind: NodeKind::Function {
                section: section_name,
            },
        });
        let Ok(size) = usize::try_from(function.size) else {
            return;
        };
        let Some(code) = elf.bytes_at(section, function.value, size) else {
            return;
        };
        let range = function.value..function.value.saturating_add(function.size);
        let mut decoder = Decoder::with_ip(64, code, function.value, DecoderOptions::NONE);
        let mut instruction = Instruction::default();
        let mut edges: BTreeMap<Node, EdgeKind> = BTreeMap::new();
        while decoder.can_decode() {
            decoder.decode_out(&mut instruction);
            let start = instruction.ip();
            let end = instruction.next_ip();
            let kind = edge_kind(&instruction);
            let mut relocated = false;
            for reloc in elf.relocs_in(section, start..end) {
                if let Pointee::Absolute { .. } = reloc.pointee {
                    continue;
                }
                relocated = true;
                let target = match reloc.pointee {
                    Pointee::External { name, .. } => external_node(name),
                    Pointee::Local {
                        section: target_section,
                        offset,
                    } => {
                        let offset = if reloc.is_pc_relative() {
                            offset.wrapping_add(end - reloc.offset)
                        } else {
                            offset
                        };
                        if target_section == section && range.contains(&offset) {
                            continue;
                        }
                        local_node(elf, target_section, offset)
                    }
                    Pointee::Absolute { .. } => continue,
                };
                add_edge(&mut edges, target, kind);
            }
            let is_branch = matches!(
                instruction.op0_kind(),
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
            );
            if !relocated && is_branch && kind != EdgeKind::Reference {
                let target = instruction.near_branch_target();
                if !range.contains(&target) {
                    add_edge(&mut edges, local_node(elf, section, target), kind);
                }
            }
        }
        for (node, kind) in edges {
            let to = self.node(node);
            self.graph.update_edge(from, to, kind);
        }
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.by_name.get(name).map(|&i| &self.graph[i])
    }

    /// What `name` calls or references directly, with how.
    pub fn edges_from(&self, name: &str) -> Vec<(&Node, EdgeKind)> {
        let Some(&index) = self.by_name.get(name) else {
            return Vec::new();
        };
        let mut out: Vec<_> = self
            .graph
            .edges(index)
            .map(|e| (&self.graph[e.target()], *e.weight()))
            .collect();
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out
    }

    /// Every node reachable from `name` (not including itself), through module functions.
    pub fn reachable_from(&self, name: &str) -> Vec<&Node> {
        let Some(&start) = self.by_name.get(name) else {
            return Vec::new();
        };
        let mut dfs = Dfs::new(&self.graph, start);
        let mut out = Vec::new();
        while let Some(index) = dfs.next(&self.graph) {
            if index != start {
                out.push(&self.graph[index]);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// A path of names from `from` to `to`, when `to` is reachable.
    pub fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let (&start, &goal) = (self.by_name.get(from)?, self.by_name.get(to)?);
        let (_, path) = petgraph::algo::astar(&self.graph, start, |n| n == goal, |_| 1, |_| 0)?;
        Some(
            path.into_iter()
                .map(|i| self.graph[i].name.clone())
                .collect(),
        )
    }

    /// How many nodes and edges the graph has.
    pub fn size(&self) -> (usize, usize) {
        (self.graph.node_count(), self.graph.edge_count())
    }

    /// The graph in Graphviz DOT form.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph callgraph {\n  rankdir=LR;\n");
        for index in self.graph.node_indices() {
            let node = &self.graph[index];
            let shape = match node.kind {
                NodeKind::Function { .. } => "box",
                NodeKind::Data { .. } | NodeKind::Anonymous { .. } => "note",
                NodeKind::Kernel | NodeKind::KlpSymbol { .. } => "ellipse",
            };
            let _ = writeln!(
                out,
                "  n{} [label={:?}, shape={shape}];",
                index.index(),
                node.name
            );
        }
        for edge in self.graph.edge_references() {
            let style = match edge.weight() {
                EdgeKind::Call => "solid",
                EdgeKind::Jump => "bold",
                EdgeKind::Reference => "dashed",
            };
            let _ = writeln!(
                out,
                "  n{} -> n{} [style={style}];",
                edge.source().index(),
                edge.target().index()
            );
        }
        out.push_str("}\n");
        out
    }
}

/// Records an edge, keeping the strongest kind when a node is reached several ways.
fn add_edge(edges: &mut BTreeMap<Node, EdgeKind>, node: Node, kind: EdgeKind) {
    let entry = edges.entry(node).or_insert(kind);
    *entry = (*entry).min(kind);
}

fn edge_kind(instruction: &Instruction) -> EdgeKind {
    match instruction.flow_control() {
        FlowControl::Call | FlowControl::IndirectCall => EdgeKind::Call,
        FlowControl::UnconditionalBranch
        | FlowControl::ConditionalBranch
        | FlowControl::IndirectBranch => EdgeKind::Jump,
        _ => EdgeKind::Reference,
    }
}

fn external_node(name: &str) -> Node {
    match name.strip_prefix(KLP_SYM_PREFIX).and_then(|rest| {
        let (object, tail) = rest.split_once('.')?;
        let (symbol, sympos) = tail.rsplit_once(',')?;
        Some((object, symbol, sympos.parse().ok()?))
    }) {
        Some((object, symbol, sympos)) => Node {
            name: symbol.to_string(),
            kind: NodeKind::KlpSymbol {
                object: object.to_string(),
                sympos,
            },
        },
        None => Node {
            name: name.to_string(),
            kind: NodeKind::Kernel,
        },
    }
}

fn local_node(elf: &ElfObject<'_>, section: SectionId, offset: u64) -> Node {
    let section_name = elf.section_name(section).to_string();
    match elf.symbol_covering(section, offset) {
        Some(symbol) if symbol.kind == SymbolKind::Func => Node {
            name: symbol.name.to_string(),
            kind: NodeKind::Function {
                section: section_name,
            },
        },
        Some(symbol) if symbol.kind == SymbolKind::Object => Node {
            name: symbol.name.to_string(),
            kind: NodeKind::Data {
                section: section_name,
            },
        },
        _ => Node {
            name: section_name.clone(),
            kind: NodeKind::Anonymous {
                section: section_name,
            },
        },
    }
}
