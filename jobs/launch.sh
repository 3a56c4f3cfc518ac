# shellcheck shell=bash disable=SC2034
# Sourced by the job scripts (bash): sets the array `launch`, the command that starts qbmap's
# ranks: `srun --mpi=pmix` where this SLURM offers PMIx, else `mpirun -n $SLURM_NTASKS` (the
# first argument, default 1, when SLURM_NTASKS is unset: outside a job).  qbmap refuses to run
# if SLURM_NTASKS and its MPI size disagree, the sign of a wrong PMI setting.
# It also exports, for every job script: HDF5_USE_FILE_LOCKING=FALSE (HDF5's own file locks
# fail or hang on NFS/Lustre; qbmap holds OUT.lock itself) and, unless set, no oversubscription
# for mpirun (one rank per allocated CPU).
# sbatch runs a copy of the submitted script from its spool directory: a script that may be
# submitted from anywhere finds this file beside the original through scontrol's Command= (the
# script's absolute path, then its arguments joined by spaces); run directly, beside $0.
export HDF5_USE_FILE_LOCKING=FALSE
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-0}
if srun --mpi=list 2>&1 | grep -q pmix; then
  launch=(srun --mpi=pmix)
else
  launch=(mpirun -n "${SLURM_NTASKS:-${1:-1}}")
fi
