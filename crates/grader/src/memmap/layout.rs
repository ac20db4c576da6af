//! Where a module's bytes put things before any code runs: the initial pages, the stack
//! pointer, the data segments and the heap base, read with `wasmparser`.

use super::*;

/// Where the module's bytes put things, before any code runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Pages of memory the module starts with.
    pub initial_pages: u64,
    /// The initial value of `__stack_pointer`: the stack grows down from here.
    pub stack_pointer: Option<u32>,
    /// Active data segments of memory 0, in module order.
    pub segments: Vec<Segment>,
    /// `__data_end`: the end of static data, zeroed statics (`.bss`) included.
    pub data_end: Option<u32>,
    /// `__heap_base`: where the heap may start.
    pub heap_base: Option<u32>,
}

/// An active data segment: bytes the module copies into memory when it is instantiated.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: u32,
    pub len: u32,
    /// The segment's name from the `name` section (`.rodata`, `.data`), when it has one.
    pub name: Option<String>,
}

impl Layout {
    /// Reads the layout from a wasm binary; `None` for anything else (a text module, bytes that
    /// are not wasm). Parts the module does not say (a stripped name section, no `__heap_base`
    /// export) are left unknown rather than guessed, except the stack pointer: Rust's linker puts
    /// it first among the globals.
    pub fn parse(wasm: &[u8]) -> Option<Layout> {
        if !wasm.starts_with(b"\0asm") {
            return None;
        }
        wasmparser::Parser::new(0).parse_all(wasm).next()?.ok()?;
        let module = ModuleFacts::read(wasm);
        let global = |index: u32| {
            module
                .globals
                .iter()
                .find(|g| g.index == index)
                .and_then(|g| g.value)
                .map(|v| v as u32)
        };
        let exported = |name: &str| {
            module
                .global_exports
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, i)| global(*i))
        };
        let named = module
            .global_names
            .iter()
            .find(|(_, n)| n.as_str() == "__stack_pointer")
            .and_then(|(i, _)| global(*i));
        let first_mutable = module
            .globals
            .first()
            .filter(|g| g.mutable && g.is_i32)
            .and_then(|g| g.value)
            .map(|v| v as u32)
            .filter(|v| *v > 0 && v % 16 == 0);
        let stack_pointer = named
            .or_else(|| exported("__stack_pointer"))
            .or(first_mutable);
        let segments = module
            .segments
            .iter()
            .map(|&(index, start, len)| Segment {
                start,
                len,
                name: module.data_names.get(&index).cloned(),
            })
            .collect();
        Some(Layout {
            initial_pages: module.initial_pages.unwrap_or(0),
            stack_pointer,
            segments,
            data_end: exported("__data_end"),
            heap_base: exported("__heap_base"),
        })
    }

    /// Fills what this layout does not know from another reading of the same program (wasm-bindgen
    /// drops the `__heap_base` and `__data_end` exports rustc's module has).
    pub fn or(mut self, other: Option<Layout>) -> Layout {
        if let Some(other) = other {
            self.stack_pointer = self.stack_pointer.or(other.stack_pointer);
            self.data_end = self.data_end.or(other.data_end);
            self.heap_base = self.heap_base.or(other.heap_base);
            if self.initial_pages == 0 {
                self.initial_pages = other.initial_pages;
            }
            for (mine, theirs) in self.segments.iter_mut().zip(&other.segments) {
                if mine.name.is_none() && mine.start == theirs.start && mine.len == theirs.len {
                    mine.name = theirs.name.clone();
                }
            }
        }
        self
    }
}

#[derive(Debug, Default)]
pub(super) struct ModuleFacts {
    pub(super) imported_globals: u32,
    pub(super) globals: Vec<GlobalFact>,
    pub(super) global_exports: Vec<(String, u32)>,
    pub(super) global_names: Vec<(u32, String)>,
    pub(super) data_names: HashMap<u32, String>,
    /// (segment index, start, length) of active segments of memory 0 with a constant offset.
    pub(super) segments: Vec<(u32, u32, u32)>,
    pub(super) initial_pages: Option<u64>,
}

#[derive(Debug)]
pub(super) struct GlobalFact {
    pub(super) index: u32,
    is_i32: bool,
    pub(super) mutable: bool,
    /// The value of an initializer that is a single constant.
    pub(super) value: Option<i64>,
}

impl ModuleFacts {
    /// Reads the facts from a wasm binary with `wasmparser`. A part that does not parse ends
    /// the reading; what was read before it still counts.
    pub(super) fn read(wasm: &[u8]) -> ModuleFacts {
        use wasmparser::{DataKind, ExternalKind, KnownCustom, Name, Parser, Payload, TypeRef};
        let mut facts = ModuleFacts::default();
        for payload in Parser::new(0).parse_all(wasm) {
            let Ok(payload) = payload else {
                break;
            };
            let read = match payload {
                Payload::ImportSection(reader) => reader.into_imports().try_for_each(|import| {
                    match import?.ty {
                        TypeRef::Memory(memory) => {
                            facts.initial_pages.get_or_insert(memory.initial);
                        }
                        TypeRef::Global(_) => facts.imported_globals += 1,
                        _ => {}
                    }
                    Ok(())
                }),
                Payload::MemorySection(reader) => reader.into_iter().take(1).try_for_each(|m| {
                    facts.initial_pages.get_or_insert(m?.initial);
                    Ok(())
                }),
                Payload::GlobalSection(reader) => {
                    reader.into_iter().enumerate().try_for_each(|(i, global)| {
                        let global = global?;
                        facts.globals.push(GlobalFact {
                            index: facts.imported_globals + i as u32,
                            is_i32: global.ty.content_type == wasmparser::ValType::I32,
                            mutable: global.ty.mutable,
                            value: constant(&global.init_expr),
                        });
                        Ok(())
                    })
                }
                Payload::ExportSection(reader) => reader.into_iter().try_for_each(|export| {
                    let export = export?;
                    if export.kind == ExternalKind::Global {
                        facts
                            .global_exports
                            .push((export.name.to_owned(), export.index));
                    }
                    Ok(())
                }),
                Payload::DataSection(reader) => {
                    reader
                        .into_iter()
                        .enumerate()
                        .try_for_each(|(index, data)| {
                            let data = data?;
                            if let DataKind::Active {
                                memory_index: 0,
                                offset_expr,
                            } = data.kind
                                && let Some(start) = constant(&offset_expr)
                            {
                                facts.segments.push((
                                    index as u32,
                                    start as u32,
                                    data.data.len() as u32,
                                ));
                            }
                            Ok(())
                        })
                }
                Payload::CustomSection(section) => match section.as_known() {
                    KnownCustom::Name(reader) => reader.into_iter().try_for_each(|name| {
                        match name? {
                            Name::Global(map) => {
                                for naming in map {
                                    let naming = naming?;
                                    facts
                                        .global_names
                                        .push((naming.index, naming.name.to_owned()));
                                }
                            }
                            Name::Data(map) => {
                                for naming in map {
                                    let naming = naming?;
                                    facts
                                        .data_names
                                        .insert(naming.index, naming.name.to_owned());
                                }
                            }
                            _ => {}
                        }
                        Ok(())
                    }),
                    _ => Ok(()),
                },
                _ => Ok(()),
            };
            // A section that does not parse leaves its facts unknown; the others still count.
            let _: wasmparser::Result<()> = read;
        }
        facts
    }
}

/// The value of a constant expression that is a single integer constant.
pub(super) fn constant(expr: &wasmparser::ConstExpr<'_>) -> Option<i64> {
    use wasmparser::Operator;
    let mut ops = expr.get_operators_reader();
    let value = match ops.read().ok()? {
        Operator::I32Const { value } => i64::from(value),
        Operator::I64Const { value } => value,
        _ => return None,
    };
    matches!(ops.read().ok()?, Operator::End).then_some(value)
}
