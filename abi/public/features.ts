/** features.h: XENFEAT_* bit numbers, reported by XENVER_get_features in 32-bit submaps. */

export const XENFEAT_writable_page_tables = 0;
export const XENFEAT_writable_descriptor_tables = 1;
export const XENFEAT_auto_translated_physmap = 2;
export const XENFEAT_supervisor_mode_kernel = 3;
export const XENFEAT_pae_pgdir_above_4gb = 4;
export const XENFEAT_mmu_pt_update_preserve_ad = 5;
export const XENFEAT_highmem_assist = 6;
export const XENFEAT_gnttab_map_avail_bits = 7;
export const XENFEAT_hvm_callback_vector = 8;
export const XENFEAT_hvm_safe_pvclock = 9;
export const XENFEAT_hvm_pirqs = 10;
export const XENFEAT_dom0 = 11;
export const XENFEAT_memory_op_vnode_supported = 13;
export const XENFEAT_ARM_SMCCC_supported = 14;
export const XENFEAT_linux_rsdp_unrestricted = 15;
export const XENFEAT_not_direct_mapped = 16;
export const XENFEAT_direct_mapped = 17;
/**
 * Submap 0's XENFEAT_* names by bit, as features.h spells them after the prefix (reports, image
 * info). Bit 12, grant_map_identity, is deprecated: features.h keeps its define inside a comment,
 * so it has a name here but no constant.
 */
export const XENFEAT_NAMES: readonly string[] = [
  'writable_page_tables', 'writable_descriptor_tables', 'auto_translated_physmap', 'supervisor_mode_kernel',
  'pae_pgdir_above_4gb', 'mmu_pt_update_preserve_ad', 'highmem_assist', 'gnttab_map_avail_bits',
  'hvm_callback_vector', 'hvm_safe_pvclock', 'hvm_pirqs', 'dom0', 'grant_map_identity',
  'memory_op_vnode_supported', 'ARM_SMCCC_supported', 'linux_rsdp_unrestricted', 'not_direct_mapped', 'direct_mapped',
];
/** Submaps Xen 4.17 defines (submap_idx 0 only). */
export const XENFEAT_NR_SUBMAPS = 1;
