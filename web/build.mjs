// Build step of the browser page: vendor ONNX Runtime Web's files for aeinfer.web.
//
//   node web/build.mjs [--out DIR]
//
// Installs onnxruntime-web from the npm registry at the version web/package-lock.json pins
// (`npm ci`, only when web/node_modules lacks it), then copies the three files the page needs —
// the WASM-only ES module, its Emscripten loader and the SIMD-threaded WASM binary (14 MB) —
// into infer/web/vendor/ (git-ignored, not in the wheel), or DIR, or $AEINFER_WEB_VENDOR;
// manifest.json records the version, the licence (MIT, Microsoft; the module's header says so)
// and each file's size and sha256.
// Nothing is fetched when the page runs. The WebGPU build (28 MB more) is left out.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = dirname(fileURLToPath(import.meta.url));
const PACKAGE = "onnxruntime-web";
const FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

function outDir() {
  const flag = process.argv.indexOf("--out");
  if (flag > 0 && process.argv[flag + 1]) return resolve(process.argv[flag + 1]);
  if (process.env.AEINFER_WEB_VENDOR) return resolve(process.env.AEINFER_WEB_VENDOR);
  return join(WEB, "..", "infer", "web", "vendor");
}

function pinnedVersion() {
  const lock = JSON.parse(readFileSync(join(WEB, "package-lock.json"), "utf8"));
  return lock.packages[`node_modules/${PACKAGE}`].version;
}

function installedVersion() {
  const path = join(WEB, "node_modules", PACKAGE, "package.json");
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")).version : null;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

function main() {
  const version = pinnedVersion();
  if (installedVersion() !== version) {
    console.log(`installing ${PACKAGE} ${version} (npm ci in ${WEB})`);
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const args = ["ci", "--ignore-scripts", "--no-audit", "--no-fund"];
    const run = spawnSync(npm, args, { cwd: WEB, stdio: "inherit" });
    if (run.status !== 0) {
      console.error(`web/build.mjs: npm ci failed (exit ${run.status ?? run.error})`);
      process.exit(1);
    }
  }
  const dist = join(WEB, "node_modules", PACKAGE, "dist");
  const out = outDir();
  mkdirSync(out, { recursive: true });
  const about = JSON.parse(readFileSync(join(dist, "..", "package.json"), "utf8"));
  const manifest = { package: PACKAGE, version, license: about.license, files: {} };
  let total = 0;
  for (const name of FILES) {
    const source = join(dist, name);
    const bytes = readFileSync(source);
    const target = join(out, name);
    if (!existsSync(target) || sha256(readFileSync(target)) !== sha256(bytes)) {
      copyFileSync(source, target);
    }
    manifest.files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
    total += bytes.length;
  }
  writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
  const size = `${(total / 1e6).toFixed(1)} MB`;
  console.log(`${PACKAGE} ${version}: ${FILES.length} files, ${size} → ${out}`);
}

main();
