/**
 * The bare test machine (harness/bare/): RAM, the devices, the Multiboot loader and its errors,
 * the CLI's one-line errors, and small 32-bit guests (hello32, triple fault, HLT, the instruction
 * limit). The long-mode test kernel runs in bare-kernels.pending-test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FwCfg, FW_CFG_FILE_DIR, FW_CFG_ID, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_RAM_SIZE, FW_CFG_SIGNATURE } from '../../harness/bare/fw-cfg.js';
import { IoBus, type IoSize } from '../../harness/bare/io-bus.js';
import { DebugExit, PciHostNoDevices, Pic8259 } from '../../harness/bare/legacy.js';
import {
  BOOT_LOADER_NAME,
  MBI_BOOT_LOADER_NAME,
  MBI_CMDLINE,
  MBI_MEMORY,
  MBI_MEM_MAP,
  MBI_MODS,
  MULTIBOOT_BOOTLOADER_MAGIC,
  loadMultiboot,
} from '../../harness/bare/multiboot.js';
import { BareRam } from '../../harness/bare/ram.js';
import { runBareMachine } from '../../harness/bare/machine.js';
import { Uart16550 } from '../../harness/bare/uart16550.js';
import { UserError } from '../../harness/errors.js';
import { ROOT, runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';
import { LOAD_AT, elfImage, headerThenCode, kludgeImage } from './bare-images.js';

const IMAGES = join(ROOT, 'fixtures/x86/images');
const MiB = 1024 * 1024;

function userError(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('expected a UserError');
}

function cString(ram: BareRam, pa: number): string {
  const bytes = ram.readBytes(pa, 256);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end));
}

describe('bare machine RAM', () => {
  it('hands out one zeroed DataView per frame, the same object every time', () => {
    const ram = new BareRam(4);
    const a = ram.frame(0x123);
    expect(a).toBeInstanceOf(DataView);
    expect(ram.frame(0x123)).toBe(a);
    expect(a?.byteLength).toBe(4096);
    expect(new Uint8Array(a!.buffer, a!.byteOffset, 4096).every((b) => b === 0)).toBe(true);
    a!.setUint32(8, 0xdeadbeef, true);
    expect(ram.read32(0x123008)).toBe(0xdeadbeef);
    expect(ram.frame(0)).toBeDefined();
    expect(ram.frame(4 * 256 - 1)).toBeDefined();
  });

  it('unassigned physical addresses read all ones and ignore writes', () => {
    const ram = new BareRam(2);
    expect(ram.frame(2 * 256)).toBeUndefined();
    expect(ram.frame(0xe0000)).toBeUndefined();
    expect(ram.mmioRead(0xe0000000, 4)).toBe(0xffffffff);
    expect(ram.mmioRead(0x200000, 2)).toBe(0xffff);
    expect(ram.mmioRead(0x10_0000_0000, 1)).toBe(0xff);
    ram.mmioWrite(0xe0000000, 4, 0);
    expect(ram.mmioRead(0xe0000000, 4)).toBe(0xffffffff);
  });

  it('routes a device window (movable) ahead of everything else', () => {
    const ram = new BareRam(2);
    let base: number | undefined = 0xfee00000;
    const seen: string[] = [];
    ram.mapMmio(() => base, 4096, {
      read: (off, size) => {
        seen.push(`r${off}/${size}`);
        return 0x1234;
      },
      write: (off, size, v) => void seen.push(`w${off}/${size}=${v}`),
    });
    expect(ram.mmioRead(0xfee00030, 4)).toBe(0x1234);
    ram.mmioWrite(0xfee000b0, 4, 0);
    base = undefined; // the device is switched off: the window is unassigned again
    expect(ram.mmioRead(0xfee00030, 4)).toBe(0xffffffff);
    expect(seen).toEqual(['r48/4', 'w176/4=0']);
  });

  it('refuses sizes outside the supported range', () => {
    expect(() => new BareRam(1)).toThrow(RangeError);
    expect(() => new BareRam(3073)).toThrow(RangeError);
  });
});

describe('bare machine I/O devices', () => {
  function com1(): { bus: IoBus; out: number[] } {
    const out: number[] = [];
    const bus = new IoBus();
    bus.claim(0x3f8, 8, new Uart16550((b) => out.push(b)));
    return { bus, out };
  }

  it('UART: THR bytes go out at once; THR always empty, no received data', () => {
    const { bus, out } = com1();
    for (const ch of 'hi\n') bus.write(0x3f8, 1, ch.charCodeAt(0));
    expect(out).toEqual([0x68, 0x69, 0x0a]);
    expect(bus.read(0x3fd, 1)).toBe(0x60); // LSR: THRE | TEMT, no DR
    expect(bus.read(0x3f8, 1)).toBe(0); // RBR: nothing received
    expect(bus.read(0x3fa, 1)).toBe(0x01); // IIR: no interrupt pending
    expect(bus.read(0x3fe, 1)).toBe(0xb0); // MSR: DCD, DSR, CTS
  });

  it('UART: the divisor latch, LCR, MCR and scratch registers read back; DLAB writes do not transmit', () => {
    const { bus, out } = com1();
    bus.write(0x3fb, 1, 0x80); // DLAB
    bus.write(0x3f8, 1, 0x01);
    bus.write(0x3f9, 1, 0x00);
    expect(bus.read(0x3f8, 1)).toBe(0x01);
    expect(bus.read(0x3f9, 1)).toBe(0x00);
    bus.write(0x3fb, 1, 0x03);
    expect(bus.read(0x3fb, 1)).toBe(0x03);
    bus.write(0x3fc, 1, 0x0b);
    expect(bus.read(0x3fc, 1)).toBe(0x0b);
    bus.write(0x3ff, 1, 0x5a);
    expect(bus.read(0x3ff, 1)).toBe(0x5a);
    expect(out).toEqual([]);
  });

  it('UART: FIFO bits in IIR, THRE interrupt identification cleared by reading IIR', () => {
    const { bus } = com1();
    bus.write(0x3fa, 1, 0x07); // FCR: enable FIFOs
    expect(bus.read(0x3fa, 1)).toBe(0xc1);
    bus.write(0x3f9, 1, 0x02); // IER: THRE interrupt
    expect(bus.read(0x3fa, 1)).toBe(0xc2);
    expect(bus.read(0x3fa, 1)).toBe(0xc1);
    bus.write(0x3f8, 1, 0x41); // transmitting empties THR again: the condition returns
    expect(bus.read(0x3fa, 1)).toBe(0xc2);
  });

  it("UART: loopback mirrors MCR into MSR and returns transmitted bytes (Linux's 8250 probe)", () => {
    const { bus, out } = com1();
    bus.write(0x3fc, 1, 0x10); // loopback, all outputs off
    expect(bus.read(0x3fe, 1) & 0xf0).toBe(0x00);
    bus.write(0x3fc, 1, 0x1f); // loopback, DTR RTS OUT1 OUT2
    expect(bus.read(0x3fe, 1) & 0xf0).toBe(0xf0);
    bus.write(0x3fc, 1, 0x1a); // RTS, OUT2: CTS and DCD
    expect(bus.read(0x3fe, 1) & 0xf0).toBe(0x90);
    bus.write(0x3f8, 1, 0x55);
    expect(out).toEqual([]);
    expect(bus.read(0x3fd, 1) & 1).toBe(1);
    expect(bus.read(0x3f8, 1)).toBe(0x55);
    expect(bus.read(0x3fd, 1) & 1).toBe(0);
  });

  it('fw_cfg: signature, ID, RAM size, CPU counts; unknown keys and reads past the end give 0', () => {
    const bus = new IoBus();
    bus.claim(0x510, 2, new FwCfg({ ramBytes: 64 * MiB, cpus: 1 }));
    const item = (key: number, n: number): number[] => {
      bus.write(0x510, 2, key);
      return Array.from({ length: n }, () => bus.read(0x511, 1));
    };
    expect(String.fromCharCode(...item(FW_CFG_SIGNATURE, 4))).toBe('QEMU');
    expect(item(FW_CFG_ID, 4)).toEqual([1, 0, 0, 0]);
    expect(item(FW_CFG_RAM_SIZE, 8)).toEqual([0, 0, 0, 4, 0, 0, 0, 0]);
    expect(item(FW_CFG_NB_CPUS, 2)).toEqual([1, 0]);
    expect(item(FW_CFG_MAX_CPUS, 2)).toEqual([1, 0]);
    expect(item(FW_CFG_FILE_DIR, 4)).toEqual([0, 0, 0, 0]);
    expect(item(0x1234, 4)).toEqual([0, 0, 0, 0]);
    expect(item(FW_CFG_SIGNATURE, 6)).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0]);
    // Reselecting rewinds; a wider read takes consecutive bytes.
    bus.write(0x510, 2, FW_CFG_SIGNATURE);
    expect(bus.read(0x511, 2)).toBe(0x4551);
  });

  it('isa-debug-exit: a write of v ends with status (v << 1) | 1', () => {
    const bus = new IoBus();
    const exits: [number, number][] = [];
    bus.claim(0xf4, 4, new DebugExit((v, s) => exits.push([v, s])));
    bus.write(0xf4, 4, 0);
    bus.write(0xf4, 1, 1);
    bus.write(0xf4, 4, 0x7f);
    expect(exits).toEqual([[0, 1], [1, 3], [0x7f, 0xff]]);
  });

  it('PCI finds no device; the address register latches; unassigned ports read all ones', () => {
    const bus = new IoBus();
    bus.claim(0xcf8, 8, new PciHostNoDevices());
    bus.write(0xcf8, 4, 0x80000000);
    expect(bus.read(0xcf8, 4)).toBe(0x80000000);
    expect(bus.read(0xcfc, 4)).toBe(0xffffffff);
    expect(bus.read(0xcfc, 2)).toBe(0xffff);
    const sizes: IoSize[] = [1, 2, 4];
    expect(sizes.map((s) => bus.read(0x80, s))).toEqual([0xff, 0xffff, 0xffffffff]);
    bus.write(0x80, 1, 0x12); // POST code: dropped
    expect(bus.unassigned).toBe(4);
  });

  it('legacy PIC: the initialisation sequence, then the mask register reads back', () => {
    const pic = new Pic8259('pic-master');
    const bus = new IoBus();
    bus.claim(0x20, 2, pic);
    bus.write(0x20, 1, 0x11); // ICW1: cascade, ICW4 needed
    bus.write(0x21, 1, 0x20); // ICW2: vectors 0x20-0x27
    bus.write(0x21, 1, 0x04); // ICW3
    bus.write(0x21, 1, 0x01); // ICW4: 8086 mode
    expect(pic.vectorBase).toBe(0x20);
    bus.write(0x21, 1, 0xfb);
    expect(bus.read(0x21, 1)).toBe(0xfb);
    expect(bus.read(0x20, 1)).toBe(0);
  });
});

describe('Multiboot loader', () => {
  const hello = readFileSync(join(IMAGES, 'hello32.elf'));

  it('loads an ELF32 kernel and builds the information structure after it', () => {
    const ram = new BareRam(64);
    const mod = new TextEncoder().encode('module payload');
    const load = loadMultiboot(ram, {
      name: 'hello32.elf',
      bytes: hello,
      cmdline: 'console=ttyS0 x=1',
      modules: [{ name: '/tmp/a.bin', bytes: mod }],
    });
    expect(load.imageStart).toBe(0x100000);
    expect(load.entry).toBeGreaterThanOrEqual(0x100000);
    expect(load.entry).toBeLessThan(load.imageEnd);
    // The info structure and everything after it lie above the image, page-aligned.
    expect(load.infoAddr % 4096).toBe(0);
    expect(load.infoAddr).toBeGreaterThanOrEqual(load.imageEnd);
    const info = load.infoAddr;
    const flags = ram.read32(info);
    expect(flags).toBe(MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MEM_MAP | MBI_BOOT_LOADER_NAME);
    expect(ram.read32(info + 4)).toBe(640);
    expect(ram.read32(info + 8)).toBe(63 * 1024);
    expect(cString(ram, ram.read32(info + 16))).toBe('hello32.elf console=ttyS0 x=1');
    expect(cString(ram, ram.read32(info + 64))).toBe(BOOT_LOADER_NAME);
    // Memory map: 640 KiB, a hole, then RAM from 1 MiB to the end.
    const mmapLen = ram.read32(info + 44);
    const mmap = ram.read32(info + 48);
    const entries: number[][] = [];
    for (let e = mmap; e < mmap + mmapLen; e += ram.read32(e) + 4) {
      entries.push([ram.read32(e + 4), ram.read32(e + 12), ram.read32(e + 20)]);
    }
    expect(entries).toEqual([[0, 0xa0000, 1], [0x100000, 63 * MiB, 1]]);
    // The module: page-aligned, after the info structure, with its string.
    expect(ram.read32(info + 20)).toBe(1);
    const list = ram.read32(info + 24);
    const [start, end] = [ram.read32(list), ram.read32(list + 4)];
    expect(start % 4096).toBe(0);
    expect(start).toBeGreaterThan(info);
    expect(end - start).toBe(mod.length);
    expect(new TextDecoder().decode(ram.readBytes(start, mod.length))).toBe('module payload');
    expect(cString(ram, ram.read32(list + 8))).toBe('/tmp/a.bin');
    expect(load.end).toBe(end);
  });

  it('loads the long-mode kernel (64-bit code in an ELF32) by its program headers', () => {
    const ram = new BareRam(64);
    const lm64 = readFileSync(join(IMAGES, 'lm64.elf'));
    const load = loadMultiboot(ram, { name: 'lm64.elf', bytes: lm64 });
    expect(load.imageStart).toBe(0x100000);
    expect(cString(ram, ram.read32(load.infoAddr + 16))).toBe('lm64.elf');
    expect(ram.read32(load.infoAddr + 20)).toBe(0);
    // The first loaded bytes are the Multiboot header.
    expect(ram.read32(0x100000)).toBe(0x1badb002);
  });

  it('honours the address fields (a.out kludge): load address, bss zeroed, entry point', () => {
    const ram = new BareRam(4);
    ram.fill(LOAD_AT, 4096, 0xaa); // stale bytes where the bss goes
    const img = kludgeImage([0xf4, 0xeb, 0xfd], { bss: 100 });
    const load = loadMultiboot(ram, { name: 'k.bin', bytes: img });
    expect(load.entry).toBe(LOAD_AT + 32);
    expect([...ram.readBytes(LOAD_AT + 32, 3)]).toEqual([0xf4, 0xeb, 0xfd]);
    expect(load.imageEnd).toBe(LOAD_AT + img.length + 100);
    expect(ram.readBytes(LOAD_AT + img.length, 100).every((b) => b === 0)).toBe(true);
    expect(ram.readBytes(LOAD_AT + img.length + 100, 1)[0]).toBe(0xaa);
  });

  it('runs a higher-half ELF entry at its physical address and zeroes the bss', () => {
    const ram = new BareRam(4);
    const data = headerThenCode([0xf4]);
    const img = elfImage({ data, paddr: 0x200000, vaddr: 0xc0200000, entry: 0xc020000c, memsz: data.length + 0x3000 });
    const load = loadMultiboot(ram, { name: 'hh.elf', bytes: img });
    expect(load.entry).toBe(0x20000c);
    expect(load.imageEnd).toBe(0x200000 + data.length + 0x3000);
    expect(load.infoAddr).toBe(0x204000);
  });

  it('a 64-bit ELF with the address fields loads through them', () => {
    const ram = new BareRam(4);
    const flat = kludgeImage([0xf4]);
    const img = elfImage({ klass: 64, data: flat });
    // The header is found inside the file; the file offset of load_addr follows from header_addr.
    const load = loadMultiboot(ram, { name: 'k64.elf', bytes: img });
    expect(load.entry).toBe(LOAD_AT + 32);
    expect(ram.read32(LOAD_AT)).toBe(0x1badb002);
  });

  it('errors: one line naming the file, for every way an image can be wrong', () => {
    const ram = (): BareRam => new BareRam(4);
    const cases: [string, Uint8Array, number, RegExp][] = [
      ['random bytes', new Uint8Array(10000).fill(0x90), 4, /^junk\.bin: not a Multiboot kernel: neither ELF nor a Multiboot header in the first 8192 bytes$/],
      ['ELF without a header', elfImage({ data: new Uint8Array(64) }), 4, /^junk\.bin: no Multiboot header \(magic 0x1badb002\) in the first 8192 bytes$/],
      ['bad checksum', elfImage({ data: headerThenCode([0xf4], 0, 1) }), 4, /^junk\.bin: bad Multiboot header checksum at offset 0x54 /],
      ['unknown required flag', elfImage({ data: headerThenCode([0xf4], 1 << 5) }), 4, /^junk\.bin: Multiboot header requires features this loader does not know \(flags 0x20\)$/],
      ['header but not ELF', headerThenCode([0xf4]), 4, /^junk\.bin: not a valid ELF file: no ELF magic$/],
      ['64-bit ELF, no address fields', elfImage({ klass: 64, data: headerThenCode([0xf4]) }), 4, /^junk\.bin: a 64-bit ELF kernel needs the Multiboot address fields/],
      ['bigger than RAM', elfImage({ data: headerThenCode([0xf4]), memsz: 8 * MiB }), 4, /^junk\.bin: a loadable segment at 0x100000-0x900000 does not fit in 4 MiB of RAM \(raise --mem\)$/],
      ['loaded above RAM', elfImage({ data: headerThenCode([0xf4]), paddr: 0x40000000 }), 4, /does not fit in 4 MiB of RAM/],
    ];
    for (const [what, bytes, , pattern] of cases) {
      const e = userError(() => loadMultiboot(ram(), { name: 'junk.bin', bytes }));
      expect(e.message, what).toMatch(pattern);
      expect(e.message.includes('\n'), what).toBe(false);
    }
  });

  it('errors: modules that do not fit name the module', () => {
    const e = userError(() =>
      loadMultiboot(new BareRam(2), { name: 'hello32.elf', bytes: hello, modules: [{ name: 'big.img', bytes: new Uint8Array(2 * MiB) }] }),
    );
    expect(e.code).toBe('bad-option');
    expect(e.message).toMatch(/^big\.img: module at 0x[0-9a-f]+-0x[0-9a-f]+ does not fit in 2 MiB of RAM \(raise --mem\)$/);
  });

  it('the boot loader magic is 0x2badb002', () => {
    expect(MULTIBOOT_BOOTLOADER_MAGIC).toBe(0x2badb002);
  });
});

describe('xenlab x86 boot-bare: user errors', () => {
  const dir = scratchDir('bare');

  it('a file that is not a Multiboot kernel is one line and exit status 1', async () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'just some text\n');
    const r = await runCli(['x86', 'boot-bare', f]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`xenlab: ${f}: not a Multiboot kernel: neither ELF nor a Multiboot header in the first 8192 bytes\n`);
  });

  it('a missing image names the file', async () => {
    const r = await runCli(['x86', 'boot-bare', join(dir, 'nope.elf')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`xenlab: ${join(dir, 'nope.elf')}: cannot read the kernel image (ENOENT)\n`);
  });

  it('--mem out of range is a usage error naming the flag', async () => {
    const r = await runCli(['x86', 'boot-bare', join(IMAGES, 'hello32.elf'), '--mem', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('xenlab: --mem expects a whole number of MiB from 2 to 3072 (got 1)\n');
  });

  it('an image too big for --mem says so in one line', async () => {
    const f = join(dir, 'big.elf');
    writeFileSync(f, elfImage({ data: headerThenCode([0xf4]), memsz: 8 * MiB }));
    const r = await runCli(['x86', 'boot-bare', f, '--mem', '4']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`xenlab: ${f}: a loadable segment at 0x100000-0x900000 does not fit in 4 MiB of RAM (raise --mem)\n`);
  });
});

describe('bare machine runs (32-bit protected mode)', () => {
  const dir = scratchDir('bare-run');
  const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

  it('hello32 prints hello and exits through isa-debug-exit: status 1 (pass)', () => {
    const r = runBareMachine({ image: join(IMAGES, 'hello32.elf') });
    expect(r.output).toBe('hello\n');
    expect(r.reason).toBe('debug-exit');
    expect(r.debugExitValue).toBe(0);
    expect(r.exitCode).toBe(1);
    expect(r.tsc).toBe(r.retired);
  });

  it('is deterministic: the same image gives the same output, instructions and TSC', () => {
    const a = runBareMachine({ image: join(IMAGES, 'hello32.elf'), memMiB: 16 });
    const b = runBareMachine({ image: join(IMAGES, 'hello32.elf'), memMiB: 16, jit: false });
    expect([b.output, b.retired, b.tsc, b.exitCode]).toEqual([a.output, a.retired, a.tsc, a.exitCode]);
  });

  it('a triple fault ends the run with a register dump and status 4, never a host exception', () => {
    // LIDT with limit 0, then INT3: #GP -> #DF -> shutdown.
    const ptr = LOAD_AT + 32 + 8;
    const img = kludgeImage([0x0f, 0x01, 0x1d, ...le(ptr), 0xcc, 0, 0, 0, 0, 0, 0]);
    const r = runBareMachine({ image: { name: 'tf.bin', bytes: img } });
    expect(r.reason).toBe('shutdown');
    expect(r.exitCode).toBe(4);
    expect(r.message).toMatch(/^guest shut down \(.*triple fault.*\) at rip 0x/);
    expect(r.registerDump).toMatch(/RAX=000000002badb002 /);
    expect(r.registerDump).toMatch(/\nRIP=[0-9a-f]{16} RFLAGS=[0-9a-f]{8} CPL=0 mode=32-bit/);
    expect(r.registerDump).toMatch(/\nES=0010 CS=0008 SS=0010 DS=0010 FS=0010 GS=0010 /);
    expect(r.registerDump).toMatch(/\nCR0=00000011 CR2=0x0 CR3=0x0 CR4=00000000 EFER=0\n/);
  });

  it('HLT with interrupts disabled ends the run: status 0', () => {
    const r = runBareMachine({ image: { name: 'halt.bin', bytes: kludgeImage([0xfa, 0xf4]) } });
    expect(r.reason).toBe('halted');
    expect(r.exitCode).toBe(0);
    expect(r.message).toBe('guest halted with interrupts disabled at rip 0x100022 after 2 instructions');
  });

  it('HLT with interrupts enabled and no timer armed ends the run too', () => {
    // MOV ESP, 0x90000; PUSH 0x202; POPF (IF = 1); HLT
    const code = [0xbc, 0, 0, 9, 0, 0x68, 0x02, 0x02, 0, 0, 0x9d, 0xf4];
    const r = runBareMachine({ image: { name: 'idle.bin', bytes: kludgeImage(code) } });
    expect(r.reason).toBe('halted');
    expect(r.exitCode).toBe(0);
    expect(r.message).toMatch(/^guest halted with interrupts enabled and nothing to wake it \(no timer armed\)/);
  });

  it('the instruction limit ends a hung guest: status 6 and a register dump', () => {
    const r = runBareMachine({ image: { name: 'spin.bin', bytes: kludgeImage([0xeb, 0xfe]) }, maxInsns: 100_000 });
    expect(r.reason).toBe('insn-limit');
    expect(r.exitCode).toBe(6);
    expect(r.retired).toBeGreaterThanOrEqual(100_000);
    expect(r.message).toMatch(/^instruction limit reached: \d+ instructions retired \(raise --max-insns\)$/);
    expect(r.registerDump).toMatch(/\nRIP=0000000000100020 /);
  });

  it('the CLI: COM1 on stdout, the debug-exit status as the exit status, --stats on stderr', async () => {
    const r = await runCli(['x86', 'boot-bare', join(IMAGES, 'hello32.elf'), '--stats']);
    expect(r.stdout).toBe('hello\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^xenlab: \d+ instructions retired, TSC \d+, [\d.]+ s wall \([\d.]+ MIPS\); guest wrote 0 to isa-debug-exit \(exit status 1\)\n$/);
  });

  it('the CLI: a hung guest names the limit and dumps registers on stderr', async () => {
    const f = join(dir, 'spin.bin');
    writeFileSync(f, kludgeImage([0xeb, 0xfe]));
    const r = await runCli(['x86', 'boot-bare', f, '--max-insns', '5000']);
    expect(r.status).toBe(6);
    expect(r.stderr.split('\n')[0]).toMatch(/^xenlab: instruction limit reached: \d+ instructions retired \(raise --max-insns\)$/);
    expect(r.stderr).toMatch(/\nRIP=0000000000100020 /);
  });
});
