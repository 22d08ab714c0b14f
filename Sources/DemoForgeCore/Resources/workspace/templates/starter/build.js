#!/usr/bin/env node
// Dependency-free static site build: renders src/ into public/.
//
// - Every file under src/ is copied to public/ with the same relative path.
// - Files and folders whose name starts with "_" or "." are not written (use src/_includes/ for partials).
// - HTML files may include partials from src/_includes/ with  {% include "name.html" %}.
// - HTML clean-up: elements marked  data-optional  that ended up empty are removed, and
//   href="tel:..." links are normalised to digits (and a leading +).
// - public/ is built in a temporary folder first and swapped in at the end, so a failed build
//   never leaves a half-written site behind.
//
// Output lines follow Eleventy's style so that progress can be followed:
//   [11ty] Writing public/index.html from ./src/index.html
//   [11ty] Copied 2 files / Wrote 1 files in 0.01 seconds (v-demoforge)
'use strict';

const fs = require('fs');
const path = require('path');

const started = process.hrtime.bigint();
const root = __dirname;
const srcDir = path.join(root, 'src');
const outName = 'public';
const outDir = path.join(root, outName);
const includesDir = path.join(srcDir, '_includes');
const templateExtensions = new Set(['.html', '.htm']);
const maxIncludeDepth = 10;

class BuildError extends Error {}

function fail(message) {
  throw new BuildError(message);
}

function isInside(parent, child) {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Lists the files to publish, as paths relative to src/, sorted for a stable output order. */
function listSourceFiles(realSrc) {
  const files = [];
  const walk = (relativeDir) => {
    const entries = fs.readdirSync(path.join(srcDir, relativeDir), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
      const relative = path.join(relativeDir, entry.name);
      const absolute = path.join(srcDir, relative);
      let stat;
      if (entry.isSymbolicLink()) {
        // Follow a symlink only when it stays inside src/.
        let target;
        try {
          target = fs.realpathSync(absolute);
        } catch {
          process.stderr.write(`[11ty] Skipping broken link ./src/${relative}\n`);
          continue;
        }
        if (!isInside(realSrc, target)) {
          process.stderr.write(`[11ty] Skipping ./src/${relative}: it links outside src/\n`);
          continue;
        }
        stat = fs.statSync(target);
      } else {
        stat = entry;
      }
      if (stat.isDirectory()) {
        walk(relative);
      } else if (stat.isFile()) {
        files.push(relative);
      }
    }
  };
  walk('');
  return files;
}

/** Expands {% include "file" %} tags from src/_includes/, recursively, with a depth limit. */
function expandIncludes(html, fromFile, depth) {
  return html.replace(/\{%-?\s*include\s+["']?([^"'%\s]+)["']?\s*-?%\}/g, (tag, name) => {
    const file = path.resolve(includesDir, name);
    if (!isInside(includesDir, file)) {
      fail(`${fromFile}: include "${name}" points outside src/_includes/`);
    }
    if (depth >= maxIncludeDepth) {
      fail(`${fromFile}: includes nested more than ${maxIncludeDepth} deep (a cycle?) at "${name}"`);
    }
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      fail(`${fromFile}: included file ./src/_includes/${name} does not exist`);
    }
    return expandIncludes(text, `./src/_includes/${name}`, depth + 1);
  });
}

/** Small HTML tidy-ups that let the template stay simple. */
function tidyHtml(html) {
  let result = html;
  // Remove elements marked data-optional whose content is empty (an optional brief field was missing).
  const emptyOptional = /<([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*\sdata-optional(?:="[^"]*")?[^>]*>\s*<\/\1>/g;
  let previous;
  do {
    previous = result;
    result = result.replace(emptyOptional, '');
  } while (result !== previous);
  // tel: links work best with digits only: "tel:(555) 014-2368" -> "tel:5550142368".
  result = result.replace(/href="tel:([^"]*)"/g, (match, number) => {
    const decoded = number.replace(/&#0*43;|&plus;/g, '+');
    const digits = decoded.replace(/[^0-9+]/g, '').replace(/(?!^)\+/g, '');
    return digits ? `href="tel:${digits}"` : match;
  });
  return result;
}

function removeTree(target) {
  let stat;
  try {
    stat = fs.lstatSync(target);
  } catch {
    return;
  }
  if (stat.isDirectory()) {
    fs.rmSync(target, { recursive: true, force: true });
  } else {
    // A file or a symlink: remove the entry itself, never what a link points at.
    fs.unlinkSync(target);
  }
}

function main() {
  let srcStat;
  try {
    srcStat = fs.statSync(srcDir);
  } catch {
    fail(`source folder ${srcDir} is missing. Put the site's files in src/ (src/index.html at least).`);
  }
  if (!srcStat.isDirectory()) {
    fail(`${srcDir} is not a folder.`);
  }
  const realSrc = fs.realpathSync(srcDir);
  const files = listSourceFiles(realSrc);
  if (files.length === 0) {
    fail(`source folder ${srcDir} has no files to publish.`);
  }

  const staging = path.join(root, `.${outName}.build-${process.pid}`);
  removeTree(staging);
  fs.mkdirSync(staging, { recursive: true });

  let copied = 0;
  let written = 0;
  try {
    for (const relative of files) {
      const from = path.join(srcDir, relative);
      const to = path.join(staging, relative);
      const shown = relative.split(path.sep).join('/');
      fs.mkdirSync(path.dirname(to), { recursive: true });
      if (templateExtensions.has(path.extname(relative).toLowerCase())) {
        const html = fs.readFileSync(from, 'utf8');
        fs.writeFileSync(to, tidyHtml(expandIncludes(html, `./src/${shown}`, 0)));
        written += 1;
      } else {
        fs.copyFileSync(from, to);
        copied += 1;
      }
      process.stdout.write(`[11ty] Writing ${outName}/${shown} from ./src/${shown}\n`);
    }
    // Swap the new output in. public/ may be a folder, a file or a symlink; only the entry is replaced.
    removeTree(outDir);
    fs.renameSync(staging, outDir);
  } catch (error) {
    removeTree(staging);
    throw error;
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `[11ty] Copied ${copied} files / Wrote ${written} files in ${seconds.toFixed(2)} seconds (v-demoforge)\n`,
  );
}

try {
  main();
} catch (error) {
  const message = error instanceof BuildError ? error.message : (error && error.stack) || String(error);
  process.stderr.write(`[11ty] Build failed: ${message}\n`);
  process.exitCode = 1;
}
