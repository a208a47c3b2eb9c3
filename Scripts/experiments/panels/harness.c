#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <stdint.h>
#include "../../../Sources/CKernels/kernels.c"
#undef AVX2
#undef MS_X86
#include "../../../Sources/CKernels/panels.c"
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static float rnd(){return (float)rand()/RAND_MAX-0.5f;}
int main(int argc,char**argv){
  int shapes[][3]={{9,1024,1024},{9,1024,4096},{9,4096,1024},{39,1024,1024},{39,1024,4096},{39,4096,1024},{39,768,768},{39,768,3072},{39,3072,768},{1,1024,1024},{26,1024,1024},{28,1024,4096},{13,1024,1024}};
  for(int s=0;s<13;s++){int n=shapes[s][0],k=shapes[s][1],o=shapes[s][2];
    float*x=aligned_alloc(64,sizeof(float)*n*k),*w=aligned_alloc(64,sizeof(float)*o*k),*b=malloc(4*o),*y1=malloc(4*n*o),*y2=malloc(4*n*o),*y3=malloc(4*o),*y4=malloc(4*n*o);
    for(long i=0;i<(long)n*k;i++)x[i]=rnd(); for(long i=0;i<(long)o*k;i++)w[i]=rnd()*0.1f; for(int i=0;i<o;i++)b[i]=rnd();
    ms_matrix*m=ms_matrix_create(w,MS_F32,k,o,0); ms_matrix_begin_packing(m); ms_matrix_product(m,1,x,n,b,0,o,y2,o); ms_matrix_finish_packing(m);
    ms_matrix*mu=ms_matrix_create(w,MS_F32,k,o,0);
    int reps = 40000000000LL/((long)n*k*o*2) + 1; if(reps>200)reps=200;
    double best1=1e9,best2=1e9,best3=1e9;
    for(int t=0;t<5;t++){double t0=now();for(int r=0;r<reps;r++)linear_f32(x,n,k,w,b,0,o,y1,o);double d=(now()-t0)/reps;if(d<best1)best1=d;
      t0=now();for(int r=0;r<reps;r++)ms_matrix_product(m,0,x,n,b,0,o,y2,o);d=(now()-t0)/reps;if(d<best2)best2=d;
      t0=now();for(int r=0;r<reps;r++)ms_matrix_product(mu,0,x,n,b,0,o,y4,o);d=(now()-t0)/reps;if(d<best3)best3=d;}
    double maxd=0,maxref=0; int chain_eq=1;
    for(int r=0;r<n;r++)for(int j=0;j<o;j++){double ref=b[j];float c=b[j],c2=0;for(int i=0;i<k;i++){ref+=(double)x[(long)r*k+i]*w[(long)j*k+i]; c2=fmaf(w[(long)j*k+i],x[(long)r*k+i],c2); if((i+1)%KB==0||i==k-1){c+=c2;c2=0;}}
      maxd=fmax(maxd,fabs(y2[(long)r*o+j]-ref)); maxref=fmax(maxref,fabs(y1[(long)r*o+j]-ref)); if(c!=y2[(long)r*o+j])chain_eq=0;}
    int same=1; for(int r=0;r<n;r++){ms_matrix_product(m,0,x+(long)r*k,1,b,0,o,y3,o); if(memcmp(y3,y2+(long)r*o,4*o))same=0;}
    int unp=!memcmp(y2,y4,4*n*o);
    ms_panels_force_width(256); ms_matrix_product(m,0,x,n,b,0,o,y4,o); int w256=!memcmp(y2,y4,4*n*o); ms_panels_force_width(-1);
    double fl=2.0*n*k*o;
    printf("n=%2d k=%4d o=%4d  rows %6.3f ms %5.1f GF/s | panels %6.3f ms %5.1f GF/s x%.2f | unpacked %6.3f ms %5.1f | errP %.1e errR %.1e chain %d alone %d unp %d avx2 %d\n",n,k,o,best1*1e3,fl/best1/1e9,best2*1e3,fl/best2/1e9,best1/best2,best3*1e3,fl/best3/1e9,maxd,maxref,chain_eq,same,unp,w256);
  }
}
