// The page wasm-bindgen's glue runs in when the grader runs a module: what a browser tab
// gives a module's JavaScript, without a window. This script is evaluated once per
// scenario, before the glue, as a function of `host`: the grader's natives (the instance in
// wasmtime, the console, the virtual clock, the seeded generator, UTF-8). Neither the glue
// nor a scenario can reach `host` itself.
//
// What a browser has and this page has not (the DOM, canvas, timers, `fetch`, `crypto`...)
// reads as `undefined`, as it would outside a browser; the read is noted, so that a step
// that goes wrong after it is reported as needing a browser, naming what it reached for.
export default function page(host, browserOnly, lockdown) {
    const g = globalThis;
    const define = (name, value) =>
        Object.defineProperty(g, name, { value, writable: true, configurable: true });

    // ---- node's `util.format`, for what a course's modules print -------------------------

    const quote = (s) => "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n') + "'";
    const number = (n) => (Object.is(n, -0) ? '-0' : String(n));

    function inspect(v, depth, seen) {
        switch (typeof v) {
            case 'string': return quote(v);
            case 'number': return number(v);
            case 'bigint': return `${v}n`;
            case 'boolean': case 'undefined': return String(v);
            case 'symbol': return v.toString();
            case 'function': {
                const kind = /^class[\s{]/.test(Function.prototype.toString.call(v)) ? 'class' : 'Function';
                return v.name ? `[${kind}${kind === 'class' ? ' ' : ': '}${v.name}]` : `[${kind} (anonymous)]`;
            }
        }
        if (v === null) return 'null';
        if (seen.includes(v)) return '[Circular *1]';
        if (v instanceof Error) return v.stack && v.stack.startsWith(`${v.name}`) ? v.stack.trimEnd() : `${v.name}: ${v.message}`;
        if (v instanceof Date) return isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
        if (v instanceof RegExp) return String(v);
        if (v instanceof Promise) return 'Promise { <pending> }';
        const inner = seen.concat([v]);
        const item = (x) => inspect(x, depth + 1, inner);
        const list = (open, items, close) => (items.length === 0 ? `${open}${close}` : `${open} ${items.join(', ')} ${close}`);
        if (Array.isArray(v)) {
            if (depth > 2) return '[Array]';
            return list('[', Array.from(v, item), ']');
        }
        if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
            return list(`${v.constructor.name}(${v.length}) [`, Array.from(v, item), ']');
        }
        if (v instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${v.byteLength} }`;
        if (v instanceof Map) {
            if (depth > 2) return '[Map]';
            return list(`Map(${v.size}) {`, Array.from(v, ([k, x]) => `${item(k)} => ${item(x)}`), '}');
        }
        if (v instanceof Set) {
            if (depth > 2) return '[Set]';
            return list(`Set(${v.size}) {`, Array.from(v, item), '}');
        }
        const proto = Object.getPrototypeOf(v);
        const name = proto === null ? '[Object: null prototype]' : proto === Object.prototype ? '' : (proto.constructor && proto.constructor.name) || '';
        if (depth > 2) return name ? `[${name}]` : '[Object]';
        const key = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k));
        const items = Object.keys(v).map((k) => `${key(k)}: ${item(v[k])}`);
        const body = list('{', items, '}');
        return name ? `${name} ${body}` : body;
    }

    const show = (v) => (typeof v === 'string' ? v : inspect(v, 0, []));

    function format(args) {
        if (args.length === 0) return '';
        let out = '';
        let rest = 1;
        if (typeof args[0] === 'string') {
            const f = args[0];
            let i = 0;
            while (i < f.length) {
                const c = f[i];
                if (c === '%' && i + 1 < f.length) {
                    const d = f[i + 1];
                    if (d === '%') { out += '%'; i += 2; continue; }
                    if ('sdifjoOc'.includes(d) && rest < args.length) {
                        const a = args[rest++];
                        switch (d) {
                            case 's': out += typeof a === 'bigint' ? `${a}n` : typeof a === 'object' && a !== null ? inspect(a, 1, []) : typeof a === 'number' ? number(a) : String(a); break;
                            case 'd': out += typeof a === 'bigint' ? `${a}n` : typeof a === 'object' && a !== null ? 'NaN' : number(Number(a)); break;
                            case 'i': out += typeof a === 'bigint' ? `${a}n` : typeof a === 'object' && a !== null ? 'NaN' : number(parseInt(a)); break;
                            case 'f': out += typeof a === 'symbol' ? 'NaN' : number(parseFloat(a)); break;
                            case 'j': try { out += JSON.stringify(a); } catch (_) { out += '[Circular]'; } break;
                            case 'o': case 'O': out += inspect(a, 0, []); break;
                            case 'c': break;
                        }
                        i += 2;
                        continue;
                    }
                }
                out += c;
                i += 1;
            }
        } else {
            out = show(args[0]);
        }
        for (; rest < args.length; rest++) out += ' ' + show(args[rest]);
        return out;
    }

    // ---- console, alert -------------------------------------------------------------------

    let indent = '';
    const emit = (level, text) => host.log(level, indent ? text.split('\n').map((l) => indent + l).join('\n') : text);
    const timers = new Map();
    const counts = new Map();
    const elapsed = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${Number(ms.toFixed(3))}ms`);
    const console = {
        log: (...a) => emit('', format(a)),
        info: (...a) => emit('', format(a)),
        debug: (...a) => emit('', format(a)),
        dir: (v) => emit('', inspect(v, 0, [])),
        table: (...a) => emit('', format(a)),
        warn: (...a) => emit('warn', format(a)),
        error: (...a) => emit('error', format(a)),
        trace: (...a) => emit('error', 'Trace' + (a.length ? ': ' + format(a) : '')),
        assert: (ok, ...a) => { if (!ok) emit('error', 'Assertion failed' + (a.length ? ': ' + format(a) : '')); },
        time: (label = 'default') => {
            if (timers.has(String(label))) emit('warn', `Label '${label}' already exists for console.time()`);
            else timers.set(String(label), host.now());
        },
        timeLog: (label = 'default', ...a) => {
            const t = timers.get(String(label));
            if (t === undefined) emit('warn', `No such label '${label}' for console.timeLog()`);
            else emit('', `${label}: ${elapsed(host.now() - t)}` + (a.length ? ' ' + format(a) : ''));
        },
        timeEnd: (label = 'default') => {
            const t = timers.get(String(label));
            if (t === undefined) emit('warn', `No such label '${label}' for console.timeEnd()`);
            else { timers.delete(String(label)); emit('', `${label}: ${elapsed(host.now() - t)}`); }
        },
        count: (label = 'default') => { const n = (counts.get(String(label)) || 0) + 1; counts.set(String(label), n); emit('', `${label}: ${n}`); },
        countReset: (label = 'default') => { counts.delete(String(label)); },
        group: (...a) => { if (a.length) emit('', format(a)); indent += '  '; },
        groupCollapsed: (...a) => { if (a.length) emit('', format(a)); indent += '  '; },
        groupEnd: () => { indent = indent.slice(2); },
    };
    define('console', console);
    define('alert', (m) => host.log('alert', m === undefined ? '' : String(m)));

    // ---- the virtual clock and the seeded generator ----------------------------------------

    define('performance', Object.freeze({ now: () => host.now(), timeOrigin: host.epoch }));
    const RealDate = Date;
    class PageDate extends RealDate {
        constructor(...a) {
            if (a.length === 0) super(host.epoch + host.now());
            else super(...a);
        }
        static now() { return host.epoch + host.now(); }
    }
    define('Date', PageDate);
    Math.random = () => host.random();

    // ---- UTF-8 ---------------------------------------------------------------------------

    const bytesOf = (input) => {
        if (input === undefined) return new Uint8Array(0);
        if (input instanceof ArrayBuffer) return new Uint8Array(input);
        if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
        throw new TypeError('The "input" argument must be an ArrayBuffer or ArrayBufferView');
    };
    class TextEncoder {
        get encoding() { return 'utf-8'; }
        encode(s = '') { return host.encode(String(s)); }
        encodeInto(s, view) {
            s = String(s);
            const all = host.encode(s);
            if (all.length <= view.length) { view.set(all); return { read: s.length, written: all.length }; }
            let read = 0;
            let written = 0;
            for (const ch of s) {
                const b = host.encode(ch);
                if (written + b.length > view.length) break;
                view.set(b, written);
                written += b.length;
                read += ch.length;
            }
            return { read, written };
        }
    }
    class TextDecoder {
        constructor(label = 'utf-8', options = {}) {
            const l = String(label).trim().toLowerCase();
            if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8') throw new RangeError(`The "${label}" encoding is not supported`);
            this.fatal = !!(options && options.fatal);
            this.ignoreBOM = !!(options && options.ignoreBOM);
        }
        get encoding() { return 'utf-8'; }
        decode(input) {
            const bytes = bytesOf(input);
            if (bytes.length === 0) return '';
            const s = host.decode(bytes, this.fatal);
            if (s === null) throw new TypeError('The encoded data was not valid for encoding utf-8');
            return !this.ignoreBOM && s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
        }
    }
    define('TextEncoder', TextEncoder);
    define('TextDecoder', TextDecoder);

    // Finalizers run when a browser's collector decides, or never: a page cannot count on
    // them, and a grade must not depend on when they run. Objects are freed by `free()`.
    class FinalizationRegistry {
        constructor(callback) { if (typeof callback !== 'function') throw new TypeError('callback must be callable'); }
        register() {}
        unregister() { return false; }
    }
    define('FinalizationRegistry', FinalizationRegistry);

    // ---- what only a browser has -------------------------------------------------------------

    for (const name of browserOnly) {
        if (name in g) delete g[name];
        Object.defineProperty(g, name, {
            get() { host.probe(name); return undefined; },
            set(v) { Object.defineProperty(g, name, { value: v, writable: true, configurable: true }); },
            configurable: true,
        });
    }

    // ---- WebAssembly, over the instance in wasmtime ----------------------------------------

    // Names on the prototypes, not assigned to instances: once the intrinsics are frozen, an
    // assignment would meet `Error.prototype.name`, read-only.
    class RuntimeError extends Error {}
    class LinkError extends Error {}
    class CompileError extends Error {}
    for (const E of [RuntimeError, LinkError, CompileError]) {
        Object.defineProperty(E.prototype, 'name', { value: E.name, writable: true, configurable: true });
    }
    // The grader compiled the module already: the bytes a page would pass are not needed.
    class Module { constructor() {} }
    class Memory {
        get buffer() { return host.buffer(); }
        grow(delta) { return host.grow(delta); }
    }
    class Table {
        constructor(index) { Object.defineProperty(this, 'index', { value: index }); }
        get length() { return host.tableSize(this.index); }
        get(i) { return host.tableGet(this.index, i); }
        set(i, v) { host.tableSet(this.index, i, v); }
        grow(delta, init) { return host.tableGrow(this.index, delta, init); }
    }
    class Global {
        constructor(index) { Object.defineProperty(this, 'index', { value: index }); }
        get value() { return host.globalGet(this.index); }
        valueOf() { return this.value; }
    }
    const memory = new Memory();
    class Instance {
        constructor(module, imports) {
            const exports = Object.create(null);
            for (const [name, kind, index] of host.instantiate(imports === undefined ? {} : imports)) {
                if (kind === 'func') {
                    const f = (...args) => host.call(index, ...args);
                    Object.defineProperty(f, 'name', { value: String(index) });
                    exports[name] = f;
                } else if (kind === 'memory') exports[name] = memory;
                else if (kind === 'table') exports[name] = new Table(index);
                else exports[name] = new Global(index);
            }
            Object.defineProperty(this, 'exports', { value: Object.freeze(exports), enumerable: true });
        }
    }
    const WebAssembly = {
        Module, Instance, Memory, Table, Global, RuntimeError, LinkError, CompileError,
        validate: () => true,
        instantiate: async (m, imports) => {
            const instance = new Instance(m, imports);
            return m instanceof Module ? instance : { module: new Module(), instance };
        },
    };
    define('WebAssembly', WebAssembly);

    // ---- the API of a scenario written in JavaScript (`t`) ----------------------------------

    class AssertionError extends Error {
        constructor(message, expected, actual) {
            super(message);
            this.expected = expected;
            this.actual = actual;
        }
    }
    // What a value is, as plain data the host turns into a report's values.
    const plain = (v, depth = 0) => {
        if (typeof v === 'bigint') return Number(v);
        if (v === null || v === undefined || ['number', 'string', 'boolean'].includes(typeof v)) return v === undefined ? 'undefined' : v;
        if (depth < 4 && (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView)))) return Array.from(v, (x) => plain(x, depth + 1));
        return inspect(v, 0, []);
    };
    const same = (a, b) => {
        if (Object.is(a, b) || a === b) return true;
        if (typeof a === 'bigint' || typeof b === 'bigint') return typeof a === typeof b && a === b;
        const listy = (x) => Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
        if (listy(a) && listy(b)) return a.length === b.length && Array.from(a).every((x, i) => same(x, b[i]));
        if (a && b && typeof a === 'object' && typeof b === 'object' && !listy(a) && !listy(b)) {
            const ka = Object.keys(a);
            const kb = Object.keys(b);
            return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
        }
        return false;
    };
    Object.defineProperty(AssertionError.prototype, 'name', { value: 'AssertionError', writable: true, configurable: true });
    const views = { u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array, u32: Uint32Array, i32: Int32Array, f32: Float32Array, f64: Float64Array, u64: BigUint64Array, i64: BigInt64Array };
    function scenario() {
        let current = null;
        let views_made = 0;
        const check = (ok, message, expected, actual) => {
            if (ok) return;
            const e = new AssertionError(message, expected, actual);
            if (current !== null) throw e;
            // An assertion outside `t.step` is a step of its own.
            const index = host.stepBegin(message);
            host.stepProblem(index, plain(expected), plain(actual));
            host.stepEnd();
        };
        const t = {
            memory,
            async step(label, body) {
                if (current !== null) throw new Error('t.step() calls cannot be nested');
                current = host.stepBegin(String(label));
                try {
                    let r = typeof body === 'function' ? body() : undefined;
                    if (r instanceof Promise) r = await r;
                    if (r !== undefined) host.stepResult(current, plain(r));
                    return r;
                } catch (e) {
                    if (e instanceof AssertionError) {
                        host.stepProblem(current, plain(e.expected), plain(e.actual));
                        return undefined;
                    }
                    host.stepFault(current);
                    throw e;
                } finally {
                    current = null;
                    host.stepEnd();
                }
            },
            equal(actual, expected, what) {
                check(same(actual, expected), what === undefined ? `expected ${inspect(expected, 0, [])}` : String(what), expected, actual);
            },
            ok(value, what) {
                check(!!value, what === undefined ? 'expected a true value' : String(what), true, value);
            },
            throws(f, includes, what) {
                try { f(); } catch (e) {
                    if (e instanceof RuntimeError) throw e;
                    const m = e instanceof Error ? e.message : String(e);
                    check(includes === undefined || m.includes(includes), what === undefined ? `expected an error containing ${quote(String(includes))}` : String(what), includes, m);
                    return e;
                }
                check(false, what === undefined ? 'expected an error' : String(what), 'an error', 'no error');
                return undefined;
            },
            view(ptr, length, type = 'u8', name) {
                const Type = views[type];
                if (Type === undefined) throw new TypeError(`t.view(): unknown element type ${quote(String(type))}`);
                name = name === undefined ? `v${++views_made}` : String(name);
                if (!host.view(name, Number(ptr), Number(length), type)) throw new AssertionError('the view was refused');
                return new Type(memory.buffer, Number(ptr), Number(length));
            },
            read(name, at, length) {
                return host.read(String(name), Number(at), Number(length));
            },
        };
        return Object.freeze(t);
    }
    // ---- lockdown ------------------------------------------------------------------------
    // Only a scenario written in JavaScript asserts anything in the page: a TOML scenario's
    // steps are judged by the host, and what a module changes in its own page changes only
    // what it does itself. So only a scripted scenario's page pays for the lockdown.
    if (!lockdown) return { Module, RuntimeError, scenario, inspect: (v) => inspect(v, 0, []), format };
    // Every intrinsic reachable from the globals is frozen, and the globals themselves made
    // read-only, before any of the module's code runs: the module (through js-sys, or its own
    // JavaScript) cannot replace `Array.prototype.map`, `Object.is` or `console` to change what
    // a scenario's assertions see, or what another part of the page does.
    const seen = new Set();
    const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
    // An object, what it inherits from, and a constructor's `prototype`, frozen.
    const harden = (v) => {
        while ((typeof v === 'object' || typeof v === 'function') && v !== null && !seen.has(v)) {
            seen.add(v);
            Object.freeze(v);
            if (typeof v === 'function' && hasOwn(v, 'prototype')) harden(v.prototype);
            v = Object.getPrototypeOf(v);
        }
    };
    // A namespace (`Math`, `JSON`, `Reflect`, `console`, `WebAssembly`...): itself, and each
    // object or constructor it holds. A plain method is left as it is: what code reads of it
    // is where it is found (a frozen object's property) and what it does, neither of which
    // can change; not walking every method is what keeps this short.
    const hardenAll = (v) => {
        harden(v);
        if (typeof v !== 'object' || v === null) return;
        for (const key of Reflect.ownKeys(v)) {
            const d = Object.getOwnPropertyDescriptor(v, key);
            if (d !== undefined && 'value' in d) harden(d.value);
        }
    };
    hardenAll(Array.prototype[Symbol.unscopables]);
    // Intrinsics only reachable through values: iterators, generators, async functions.
    hardenAll(Object.getPrototypeOf([][Symbol.iterator]()));
    hardenAll(Object.getPrototypeOf(new Map()[Symbol.iterator]()));
    hardenAll(Object.getPrototypeOf(new Set()[Symbol.iterator]()));
    hardenAll(Object.getPrototypeOf(''[Symbol.iterator]()));
    hardenAll(Object.getPrototypeOf(function* () {}));
    hardenAll(Object.getPrototypeOf(async function () {}));
    hardenAll(Object.getPrototypeOf(async function* () {}));
    for (const name of Reflect.ownKeys(g)) {
        // The global object stays open: a page may add globals of its own.
        if (browserOnly.includes(name) || name === 'globalThis') continue;
        const d = Object.getOwnPropertyDescriptor(g, name);
        if (d === undefined || !d.configurable) continue;
        if ('value' in d) {
            hardenAll(d.value);
            Object.defineProperty(g, name, { value: d.value, writable: false, enumerable: d.enumerable, configurable: false });
        } else {
            harden(d.get);
            harden(d.set);
            Object.defineProperty(g, name, { get: d.get, set: d.set, enumerable: d.enumerable, configurable: false });
        }
    }
    return { Module, RuntimeError, scenario, inspect: (v) => inspect(v, 0, []), format };
}
