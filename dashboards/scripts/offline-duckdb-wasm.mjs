// Make Evidence build and render without the internet (run by `npm ci` as postinstall).
//
// Why: Evidence writes and reads its data as Parquet inside DuckDB-Wasm (@evidence-dev/universal-sql,
// at `evidence sources`, at `evidence build` and in the browser). Since DuckDB-Wasm 1.29 the Parquet
// reader is not compiled in: DuckDB fetches it on first use from extensions.duckdb.org. Where that
// host cannot be reached (our CI, a provincial network, a reader's browser behind a firewall), Node
// hangs in `evidence sources` and the browser cannot read the data. DuckDB-Wasm 1.28.0 (DuckDB 0.9.1)
// is the last release with Parquet built in; package.json pins it with npm "overrides".
//
// universal-sql 3.0.1 opens its database with two settings that DuckDB 0.9.1 does not know
// (`ieee_floating_point_ops`, added in 1.1, and `old_implicit_casting`, added in 0.10). Both only
// restore 0.9 behaviour on newer DuckDB, so on 0.9.1 they are no-ops: this script lets them fail
// silently instead of failing the whole database. It is idempotent, and it stops the install with
// an error when the code it patches has changed (an Evidence upgrade must look at this again).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const EXPECTED_WASM = '1.28.0';
const SETTINGS = ['SET ieee_floating_point_ops = false;', 'SET old_implicit_casting = true;'];
const MARK = '/* konvergensi: DuckDB 0.9 lacks this setting */';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

function fail(message) {
	console.error(`offline-duckdb-wasm: ${message}`);
	process.exit(1);
}

/** The folder of package `name` as `req` resolves it (packages may not export package.json). */
function packageDir(req, name) {
	let dir = path.dirname(req.resolve(name));
	while (!dir.endsWith(path.join('node_modules', name))) {
		const up = path.dirname(dir);
		if (up === dir) fail(`cannot find the folder of ${name}`);
		dir = up;
	}
	return dir;
}

const usql = packageDir(require, '@evidence-dev/universal-sql');
const wasmDir = packageDir(createRequire(path.join(usql, 'src', 'index.js')), '@duckdb/duckdb-wasm');
const wasmVersion = JSON.parse(readFileSync(path.join(wasmDir, 'package.json'), 'utf8')).version;
if (wasmVersion !== EXPECTED_WASM) {
	fail(`@duckdb/duckdb-wasm is ${wasmVersion}, expected ${EXPECTED_WASM} (package.json "overrides")`);
}

for (const file of ['node.js', 'browser.js']) {
	const target = path.join(usql, 'src', 'client-duckdb', file);
	let source = readFileSync(target, 'utf8');
	let changed = false;
	for (const setting of SETTINGS) {
		const call = `await connection.query('${setting}');`;
		const patched = `try { ${call} } catch { ${MARK} }`;
		if (source.includes(patched)) continue;
		if (!source.includes(call)) fail(`${target} no longer runs "${setting}": review this patch`);
		source = source.replace(call, patched);
		changed = true;
	}
	if (changed) writeFileSync(target, source);
	console.log(`offline-duckdb-wasm: ${path.relative(root, target)} ${changed ? 'patched' : 'already patched'}`);
}
