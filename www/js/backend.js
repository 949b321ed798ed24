// Which burn backend the search can use here: burn-wgpu where the browser
// gives a WebGPU adapter, else burn-ndarray compiled into the wasm (CPU).

/**
 * Resolves to {backend: "webgpu" | "cpu", detail: string}. Never rejects: a
 * browser without WebGPU, one that refuses an adapter, or one whose request
 * throws all mean the CPU fallback.
 */
export async function detectBackend() {
  if (!('gpu' in navigator) || !navigator.gpu) {
    return { backend: 'cpu', detail: 'This browser has no WebGPU (navigator.gpu is missing).' };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) {
      return { backend: 'cpu', detail: 'WebGPU is present but offers no adapter (no usable GPU, or WebGPU is switched off).' };
    }
    const info = adapter.info || {};
    const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unnamed adapter';
    return { backend: 'webgpu', detail: name };
  } catch (e) {
    return { backend: 'cpu', detail: `Requesting a WebGPU adapter failed: ${e.message || e}` };
  }
}

/** A sentence for the page. */
export function describeBackend({ backend, detail }) {
  return backend === 'webgpu'
    ? `WebGPU adapter found (${detail}): the search runs on the GPU with burn-wgpu.`
    : `WebGPU is not available: ${detail} The search runs on the CPU instead (burn-ndarray in WebAssembly), which is slower.`;
}
