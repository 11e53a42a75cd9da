/** version.h: xen_version (hypercall 17) sub-ops and the buffers they fill. */
import { IN, OUT, array, char, named, struct, uint32_t, unsigned_char, unsigned_int } from '../layout/schema.js';
import { xen_ulong_t } from './arch-x86.js';

export const XENVER_version = 0;
export const XENVER_extraversion = 1;
export const XENVER_compile_info = 2;
export const XENVER_capabilities = 3;
export const XENVER_changeset = 4;
export const XENVER_platform_parameters = 5;
export const XENVER_get_features = 6;
export const XENVER_pagesize = 7;
export const XENVER_guest_handle = 8;
export const XENVER_commandline = 9;
export const XENVER_build_id = 10;

/** XENVER_extraversion: the version suffix (".7"), NUL-terminated. */
export const xen_extraversion_t = named('xen_extraversion_t', array(char, 16));
export const XEN_EXTRAVERSION_LEN = 16;

/** XENVER_compile_info: who built Xen, where, when, with what. */
export const xen_compile_info = struct('struct xen_compile_info', {
  compiler: OUT(array(char, 64)),
  compile_by: OUT(array(char, 16)),
  compile_domain: OUT(array(char, 32)),
  compile_date: OUT(array(char, 32)),
});

/** XENVER_capabilities: space-separated guest types ("xen-3.0-x86_64 ..."). */
export const xen_capabilities_info_t = named('xen_capabilities_info_t', array(char, 1024));
export const XEN_CAPABILITIES_INFO_LEN = 1024;

/** XENVER_changeset: the source revision. */
export const xen_changeset_info_t = named('xen_changeset_info_t', array(char, 64));
export const XEN_CHANGESET_INFO_LEN = 64;

/** XENVER_platform_parameters: the start of the hypervisor's reserved virtual range. */
export const xen_platform_parameters = struct('struct xen_platform_parameters', { virt_start: OUT(xen_ulong_t) });

/** XENVER_get_features: the 32 XENFEAT_* bits of submap `submap_idx`. OUT: `submap`. */
export const xen_feature_info = struct('struct xen_feature_info', {
  submap_idx: IN(unsigned_int),
  submap: OUT(uint32_t),
});

/** XENVER_commandline: Xen's own command line. */
export const xen_commandline_t = named('xen_commandline_t', array(char, 1024));

/** XENVER_build_id: `len` bytes of the build id follow (IN: room in `buf`; OUT: the id's length as the result). */
export const xen_build_id = struct('struct xen_build_id', {
  len: IN(uint32_t),
  buf: OUT(array(unsigned_char, 0)),
});
