#!/usr/bin/env node
// Dependency-free static file server for the built site in public/.
//
//   node server.js [--port=N | --port N]     (the argument wins over the PORT environment variable)
//   HOST=127.0.0.1 node server.js            (default host 0.0.0.0; port 0 picks a free port)
//
// Serves only files inside public/ (after decoding, normalising and resolving symlinks), index.html
// for folders, public/404.html (or a built-in page) for anything missing. SIGTERM / SIGINT close the
// server and exit 0.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const publicDir = path.join(__dirname, 'public');
const defaultPort = 8080;

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.pdf': 'application/pdf',
};

function usage(message) {
  process.stderr.write(`server.js: ${message}\nUsage: node server.js [--port=N | --port N]  (or PORT=N)\n`);
  process.exit(2);
}

function parsePort(text, source) {
  if (!/^\d{1,5}$/.test(String(text).trim())) usage(`${source} must be a port number 0-65535, got "${text}"`);
  const port = Number(String(text).trim());
  if (port > 65535) usage(`${source} must be a port number 0-65535, got "${text}"`);
  return port;
}

function choosePort(argv, env) {
  let fromArgs = null;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--port' || arg === '-p') {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      fromArgs = parsePort(argv[i + 1], arg);
      i += 1;
    } else if (arg.startsWith('--port=')) {
      fromArgs = parsePort(arg.slice('--port='.length), '--port');
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('Usage: node server.js [--port=N | --port N]  (or PORT=N, HOST=ADDRESS)\n');
      process.exit(0);
    }
  }
  if (fromArgs !== null) return fromArgs;
  if (env.PORT !== undefined && env.PORT !== '') return parsePort(env.PORT, 'PORT');
  return defaultPort;
}

const port = choosePort(process.argv.slice(2), process.env);
const host = process.env.HOST || '0.0.0.0';

function isInside(parent, child) {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

const notFoundPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:grid;place-items:center;
background:#f8fafc;color:#0f172a}main{text-align:center;padding:2rem}h1{font-size:2rem;margin:0 0 .5rem}
a{color:#1d4ed8}</style></head>
<body><main><h1>Page not found</h1><p>Sorry, there is nothing at this address.</p>
<p><a href="/">Back to the home page</a></p></main></body></html>
`;

function send(req, res, status, body, type, extraHeaders) {
  const buffer = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': buffer.length,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...extraHeaders,
  });
  res.end(req.method === 'HEAD' ? undefined : buffer);
}

function sendError(req, res, status, text) {
  send(req, res, status, `${status} ${text}\n`, 'text/plain; charset=utf-8');
}

/** Resolves a real path to a regular file inside public/, or null. Never follows a link out of public/. */
function resolveInside(realRoot, candidate) {
  let real;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    return null;
  }
  if (!isInside(realRoot, real)) return null;
  return real;
}

function sendNotFound(req, res, realRoot) {
  const custom = realRoot ? resolveInside(realRoot, path.join(realRoot, '404.html')) : null;
  if (custom) {
    try {
      if (fs.statSync(custom).isFile()) {
        send(req, res, 404, fs.readFileSync(custom), contentTypes['.html']);
        return;
      }
    } catch {
      // Fall through to the built-in page.
    }
  }
  send(req, res, 404, notFoundPage, contentTypes['.html']);
}

function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(req, res, 405, '405 Method Not Allowed\n', 'text/plain; charset=utf-8', { Allow: 'GET, HEAD' });
    return;
  }
  const rawPath = (req.url || '/').split('?')[0].split('#')[0];
  if (!rawPath.startsWith('/')) {
    sendError(req, res, 400, 'Bad Request');
    return;
  }
  let decoded;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    sendError(req, res, 400, 'Bad Request');
    return;
  }
  // Refuse NUL bytes, backslashes and any ".." segment outright instead of normalising them away.
  const segments = decoded.split('/');
  if (decoded.includes('\0') || decoded.includes('\\') || segments.some((segment) => segment === '..')) {
    sendError(req, res, 400, 'Bad Request');
    return;
  }

  let realRoot;
  try {
    realRoot = fs.realpathSync(publicDir);
  } catch {
    send(req, res, 404, notFoundPage.replace('Sorry, there is nothing at this address.',
      'The site has not been built yet: run <code>npm run build</code>.'), contentTypes['.html']);
    return;
  }

  const candidate = path.join(realRoot, ...segments.filter((segment) => segment !== '' && segment !== '.'));
  if (!isInside(realRoot, candidate)) {
    sendError(req, res, 400, 'Bad Request');
    return;
  }
  let file = resolveInside(realRoot, candidate);
  if (!file) {
    sendNotFound(req, res, realRoot);
    return;
  }
  let stat;
  try {
    stat = fs.statSync(file);
    if (stat.isDirectory()) {
      if (!rawPath.endsWith('/')) {
        const query = (req.url || '').slice(rawPath.length);
        res.writeHead(301, { Location: `${rawPath}/${query}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      file = resolveInside(realRoot, path.join(file, 'index.html'));
      if (!file) {
        sendNotFound(req, res, realRoot);
        return;
      }
      stat = fs.statSync(file);
    }
  } catch {
    sendNotFound(req, res, realRoot);
    return;
  }
  if (!stat.isFile()) {
    sendNotFound(req, res, realRoot);
    return;
  }

  const type = contentTypes[path.extname(file).toLowerCase()] || 'application/octet-stream';
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': stat.size,
    'Last-Modified': stat.mtime.toUTCString(),
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

const server = http.createServer((req, res) => {
  try {
    handle(req, res);
  } catch (error) {
    process.stderr.write(`server.js: ${req.method} ${req.url}: ${error && error.message}\n`);
    if (!res.headersSent) sendError(req, res, 500, 'Internal Server Error');
    else res.destroy();
  }
});

server.on('error', (error) => {
  if (error.code === 'EADDRINUSE') {
    process.stderr.write(
      `server.js: cannot listen on ${host}:${port}: address already in use (EADDRINUSE). ` +
        'Choose another port with --port=N or PORT=N.\n',
    );
  } else {
    process.stderr.write(`server.js: cannot listen on ${host}:${port}: ${error.message} (${error.code || 'error'})\n`);
  }
  process.exit(1);
});

server.listen(port, host, () => {
  const actual = server.address().port;
  if (!fs.existsSync(publicDir)) {
    process.stdout.write('Warning: public/ does not exist yet; run `npm run build` first.\n');
  }
  process.stdout.write(`Serving public/ at http://127.0.0.1:${actual}/\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`Received ${signal}, shutting down.\n`);
  server.close(() => process.exit(0));
  if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
  // Do not wait forever for a slow client.
  setTimeout(() => process.exit(0), 2000).unref();
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
