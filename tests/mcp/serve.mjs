// Starting and stopping the real `bver up` for the MCP tests: a free
// loopback port (--listen 127.0.0.1:0), the URL read from its
// "listening on http://127.0.0.1:PORT" line.
import { spawn } from "node:child_process";

// Resolves to {child, url} once the server listens; rejects when it exits
// first or does not listen within `timeoutMs`.
export function startServer(exe, cwd, env, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, ["up", "--listen", "127.0.0.1:0"], { cwd, env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bver up did not listen within ${timeoutMs} ms; stdout: ${out}`));
    }, timeoutMs);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bver up exited early (code ${code}, signal ${signal}); stdout: ${out}`));
    };
    child.once("exit", onExit);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        child.off("exit", onExit);
        child.stdout.removeAllListeners("data");
        child.stdout.resume();
        resolve({ child, url: m[1] });
      }
    });
  });
}

// Sends SIGTERM and resolves to the exit code (a string naming the signal
// when it was killed, "timeout" when it had to be killed after `timeoutMs`).
export function stopServer(server, timeoutMs = 15000) {
  const { child } = server;
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode ?? child.signalCode);
      return;
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve("timeout");
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
    child.kill("SIGTERM");
  });
}
