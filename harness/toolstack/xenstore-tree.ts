/**
 * The XenStore tree the toolstack writes for a PV domU, as libxl 4.17 does (libxl_create.c
 * `libxl__domain_make`, libxl_dom.c `libxl__build_post`, the console device of
 * `libxl__device_console_add`), then INTRODUCE.
 *
 * Permissions, libxl's three sets: `ro` = [n0, rN] (dom0 owns, the guest reads), `rw` = [nN]
 * (the guest owns), `none` = [n0] (toolstack-private).
 *
 *   /local/domain/N              ro   vm, name, domid, memory/{static-max,target,videoram},
 *                                     cpu/K/availability, store/{port,ring-ref}
 *   /local/domain/N/device       ro   device/suspend/event-channel rw
 *   /local/domain/N/control      ro   shutdown, feature-{poweroff,reboot,suspend}, sysrq rw;
 *                                     platform-feature-multiprocessor-suspend = platform-feature-xs_reset_watches = "1"
 *   /local/domain/N/{data,drivers,feature,attr,error}   rw
 *   /local/domain/N/console      rw dir; ring-ref, port, limit, type, output, backend, backend-id ro
 *   /local/domain/0/backend/console/N/0   the console backend's directory (dom0, N reads)
 *   /vm/UUID                     ro   uuid, name, start_time, image/{ostype,kernel,ramdisk,cmdline}
 *   /libxl/N                     none device/, type = "pv"
 *
 * Deterministic: start_time is the guest clock at build ("0.00"), not the host's.
 */
import { XenStoreError, type XenStore } from '../xenstore/host.js';

export interface DomainTreeOptions {
  readonly domid: number;
  readonly name: string;
  /** 8-4-4-4-12, lower case. */
  readonly uuid: string;
  readonly memoryKiB: number;
  readonly maxmemKiB: number;
  readonly vcpus: number;
  readonly maxvcpus: number;
  readonly storeMfn: number;
  readonly storePort: number;
  readonly consoleMfn: number;
  readonly consolePort: number;
  readonly kernel: string;
  readonly ramdisk?: string | undefined;
  readonly cmdline?: string | undefined;
}

/** Writes dom0's own entries (xen-init-dom0 does at host boot). */
export function writeDom0Tree(xs: XenStore): void {
  const h = xs.host;
  h.write('/local/domain/0/name', 'Domain-0');
  h.write('/local/domain/0/domid', '0');
}

/** Writes the domU tree in one transaction, as libxl does, then the post-build entries. */
export function writeDomainTree(xs: XenStore, o: DomainTreeOptions): void {
  const h = xs.host;
  const N = o.domid;
  const dom = `/local/domain/${N}`;
  const vm = `/vm/${o.uuid}`;
  const lx = `/libxl/${N}`;
  const ro = ['n0', `r${N}`];
  const rw = [`n${N}`];
  const none = ['n0'];
  const mknod = (t: { write(p: string, v: string): void; setPerms(p: string, perms: readonly string[]): void }, p: string, perms: readonly string[]): void => {
    t.write(p, '');
    t.setPerms(p, perms);
  };
  // xs_rm's result is ignored by libxl: the paths may not exist yet.
  const rm = (t: { rm(p: string): void }, p: string): void => {
    try {
      t.rm(p);
    } catch (e) {
      if (!(e instanceof XenStoreError)) throw e;
    }
  };
  h.transaction((t) => {
    rm(t, dom);
    mknod(t, dom, ro);
    rm(t, vm);
    mknod(t, vm, ro);
    rm(t, lx);
    mknod(t, lx, none);
    mknod(t, `${lx}/device`, none);
    t.write(`${dom}/vm`, vm);
    mknod(t, `${dom}/cpu`, ro);
    mknod(t, `${dom}/memory`, ro);
    mknod(t, `${dom}/device`, ro);
    mknod(t, `${dom}/device/suspend/event-channel`, rw);
    mknod(t, `${dom}/control`, ro);
    for (const k of ['shutdown', 'feature-poweroff', 'feature-reboot', 'feature-suspend', 'sysrq']) mknod(t, `${dom}/control/${k}`, rw);
    for (const k of ['data', 'drivers', 'feature', 'attr', 'error']) mknod(t, `${dom}/${k}`, rw);
    t.write(`${vm}/uuid`, o.uuid);
    t.write(`${vm}/name`, o.name);
    t.write(`${dom}/control/platform-feature-multiprocessor-suspend`, '1');
    t.write(`${dom}/control/platform-feature-xs_reset_watches`, '1');
    t.write(`${lx}/type`, 'pv');
  });
  h.write(`${dom}/name`, o.name);

  // libxl__build_post: memory, domid, store, vCPUs; the VM's image entries.
  h.transaction((t) => {
    t.write(`${dom}/memory/static-max`, String(o.maxmemKiB));
    t.write(`${dom}/memory/target`, String(o.memoryKiB));
    t.write(`${dom}/memory/videoram`, '0');
    t.write(`${dom}/domid`, String(N));
    t.write(`${dom}/store/port`, String(o.storePort));
    t.write(`${dom}/store/ring-ref`, String(o.storeMfn));
    for (let i = 0; i < o.maxvcpus; i++) t.write(`${dom}/cpu/${i}/availability`, i < o.vcpus ? 'online' : 'offline');
    t.write(`${vm}/image/ostype`, 'linux');
    t.write(`${vm}/image/kernel`, o.kernel);
    t.write(`${vm}/start_time`, '0.00');
    if (o.ramdisk !== undefined) t.write(`${vm}/image/ramdisk`, o.ramdisk);
    if (o.cmdline !== undefined) t.write(`${vm}/image/cmdline`, o.cmdline);
  });

  // The console (device 0): frontend keys read-only to the guest, backend directory in dom0.
  const be = `/local/domain/0/backend/console/${N}/0`;
  h.transaction((t) => {
    mknod(t, `${dom}/console`, [`n${N}`, 'r0']);
    const roFront = ['n0', `r${N}`];
    const put = (k: string, v: string): void => {
      t.write(`${dom}/console/${k}`, v);
      t.setPerms(`${dom}/console/${k}`, roFront);
    };
    put('backend', be);
    put('backend-id', '0');
    put('limit', '1048576');
    put('type', 'xenconsoled');
    put('output', 'pty');
    put('tty', '');
    put('port', String(o.consolePort));
    put('ring-ref', String(o.consoleMfn));
    mknod(t, be, ['n0', `r${N}`]);
    t.write(`${be}/frontend`, `${dom}/console`);
    t.write(`${be}/frontend-id`, String(N));
    t.write(`${be}/online`, '1');
    t.write(`${be}/protocol`, 'vt100');
    mknod(t, `${lx}/device/console/0`, none);
    t.write(`${lx}/device/console/0/frontend`, `${dom}/console`);
    t.write(`${lx}/device/console/0/backend`, be);
  });
}

/** Values a toolstack writes to control/shutdown (xl shutdown / reboot / save). */
export type ShutdownRequest = 'poweroff' | 'reboot' | 'halt' | 'suspend';

/** Asks the guest to shut down, as `xl shutdown`/`xl reboot` do: control/shutdown = reason. */
export function requestShutdown(xs: XenStore, domid: number, reason: ShutdownRequest): void {
  xs.host.write(`/local/domain/${domid}/control/shutdown`, reason);
}
